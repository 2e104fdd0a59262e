"""`GET /v1/batch/<id>/events`: a batch's progress as server-sent events, until it is final.

The stream reads the batch's status the way a status poll does (`batch_status` through
`status_cache`, with a page of no essays: the parent's describe alone), every `POLL_S`, and
sends one `status` event for each change the batch's workflow made: its `version` is the
event's id. The client needs no timer, and while nothing changes it costs the server nothing
more than a poll would.

- Final: `spellchecked` and `failed` at once; `completed` and `cancelled` once the batch's
  workflow has closed, which `finished_at` says: the workflow sets it as it returns, so only a
  closed batch's result has it (the status module reads that), never a running one's memo (a
  cancelled batch's chunks still report their last counts until then). The final event
  carries `"final": true`, and then the stream ends. Closing is a change of its own (the
  closed batch's version is one more), so every event has a new id.
- `Last-Event-ID` (a reconnecting client's last id): changes up to it are not sent again; the
  first event is the first later version. A batch that is final sends its final event whatever
  the id, so a client that lost the connection just as the batch ended still learns why the
  stream ends: reconnecting after the final event gets exactly that event again, then the end.
- A `: keep-alive` comment every `KEEP_ALIVE_S` without a change keeps proxies from closing it.
- Exempt from Quart's `RESPONSE_TIMEOUT` (the answer lasts as long as the batch), and ended,
  cleanly and without another event, as soon as the API is told to stop (api/http/stopping.py):
  the client reconnects elsewhere with its Last-Event-ID.
- At most `MAX_STREAMS_PER_CLIENT` open at once per client (per address while the API is
  open); one more is 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator

from pydantic import Field
from quart import Blueprint, Response, current_app, request, stream_with_context
from quart.blueprints import BlueprintSetupState

from api.access.auth import current_client, requester
from api.batches.answers import BatchCounts, BatchStatusAnswer
from api.batches.status import batch_status
from api.http.answers import Answer
from api.http.bodies import check_id
from api.http.errors import ApiError, invalid_field
from api.http.stopping import stopping
from api.temporal import settings, status_cache
from contracts.batch import BatchState

events = Blueprint("events", __name__)
log = logging.getLogger(__name__)

POLL_S = 0.5  # through the status cache: a server read about once a second (STATUS_MAX_AGE_S)
KEEP_ALIVE_S = 15.0
# Seconds a client over its cap is told to wait: a stream of its own may end by then.
RETRY_AFTER_S = 5
MEDIA_TYPE = "text/event-stream"
LAST_EVENT_ID = "Last-Event-ID"
_VERSION = re.compile(r"[0-9]{1,18}")
STREAMS = "event_streams"
FINAL_AT_ONCE = frozenset({BatchState.SPELLCHECKED, BatchState.FAILED})
FINAL_ONCE_CLOSED = frozenset({BatchState.COMPLETED, BatchState.CANCELLED})


class BatchEvent(Answer):
    """The `data` of a `status` event."""

    batch_id: str
    state: BatchState
    counts: BatchCounts
    round: int
    version: int = Field(description="the event's id: which change of the batch this is")
    final: bool = Field(description="the batch is final: this is the stream's last event")

    @classmethod
    def of(cls, answer: BatchStatusAnswer) -> BatchEvent:
        return cls(
            batch_id=answer.batch_id,
            state=answer.state,
            counts=answer.counts,
            round=answer.round,
            version=answer.version,
            final=is_final(answer),
        )

    def encoded(self) -> bytes:
        data = json.dumps(self.body(), separators=(",", ":"), ensure_ascii=False)
        return f"event: status\nid: {self.version}\ndata: {data}\n\n".encode()


def is_final(answer: BatchStatusAnswer) -> bool:
    if answer.state in FINAL_AT_ONCE:
        return True
    return answer.state in FINAL_ONCE_CLOSED and answer.finished_at is not None


class Slot:
    """One open stream of one client's; `release` may be called more than once."""

    def __init__(self, held: Counter[str], holder: str) -> None:
        self._held = held
        self._holder = holder
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._held[self._holder] -= 1
        if self._held[self._holder] <= 0:
            del self._held[self._holder]


class StreamSlots:
    """How many streams each client holds open, in this API process."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()

    def take(self, holder: str, most: int) -> Slot:
        if self._held[holder] >= most:
            raise ApiError(
                429,
                "Too many requests",
                f"at most {most} event streams open at once per client; close one, or retry "
                f"after {RETRY_AFTER_S} s",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        self._held[holder] += 1
        return Slot(self._held, holder)


@events.record_once
def _keep_slots(state: BlueprintSetupState) -> None:
    state.app.extensions[STREAMS] = StreamSlots()


def _slots() -> StreamSlots:
    return current_app.extensions[STREAMS]


def _last_event_id() -> int | None:
    raw = request.headers.get(LAST_EVENT_ID)
    if raw is None:  # EventSource sends none before it has seen an id (nor an empty one)
        return None
    if not _VERSION.fullmatch(raw):
        raise invalid_field(
            LAST_EVENT_ID, "Last-Event-ID must be an event id this stream sent", "header"
        )
    return int(raw)


async def _read(batch_id: str) -> BatchStatusAnswer:
    """The batch's status without essays, as polls get it (404: unknown, or not this client's)."""
    answer, _ = await status_cache().get(
        (current_client(), batch_id, 0, 0), lambda: batch_status(batch_id, 0, 0)
    )
    return answer


@events.get("/v1/batch/<batch_id>/events")
async def batch_events(batch_id: str):
    check_id("batch_id", batch_id)
    if request.args:  # refused, never silently ignored, as on the status route
        name = next(iter(request.args))
        raise invalid_field(
            name, "unknown query parameter; this endpoint takes none", "query_parameter"
        )
    after = _last_event_id()
    slot = _slots().take(requester(), settings().max_streams_per_client)
    try:
        first = await _read(batch_id)
    except BaseException:
        slot.release()
        raise
    # No proxy may keep or buffer it (`X-Accel-Buffering` is nginx's switch).
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":  # Quart would run the stream, unsent, until the batch ends
        slot.release()
        return Response(b"", mimetype=MEDIA_TYPE, headers=headers)
    body = _Held(stream_with_context(_stream)(batch_id, first, after, stopping()), slot)
    response = Response(body, mimetype=MEDIA_TYPE, headers=headers)
    # Not Quart's RESPONSE_TIMEOUT: a stream lasts as long as its batch. (At that timeout Quart
    # would also stop sending without ending the answer, leaving the client waiting.)
    response.timeout = None
    return response


async def _stream(
    batch_id: str, answer: BatchStatusAnswer, after: int | None, stop: asyncio.Event
) -> AsyncIterator[bytes]:
    sent = after if after is not None else -1  # the last version the client has
    quiet_since = time.monotonic()
    failing = False
    while not stop.is_set():
        final = is_final(answer)
        if answer.version > sent or final:
            yield BatchEvent.of(answer).encoded()
            sent = max(sent, answer.version)
            quiet_since = time.monotonic()
        if final:
            return
        if time.monotonic() - quiet_since >= KEEP_ALIVE_S:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        if await _set_within(stop, POLL_S):
            return
        try:
            answer = await _read(batch_id)
            failing = False
        except ApiError as exc:
            if exc.status == 404:  # gone (an operator deleted it): nothing more to say
                return
            failing = _note_failure(batch_id, exc, failing)
        except Exception as exc:  # Temporal away for a moment: the next poll may get through
            failing = _note_failure(batch_id, exc, failing)


def _note_failure(batch_id: str, exc: Exception, failing: bool) -> bool:
    if not failing:  # once per outage, not at every poll
        log.warning("event stream of batch %s: status read failed: %r", batch_id, exc)
    return True


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


class _Held:
    """The stream's body, holding its client's slot until it ends. Quart closes a body it has
    sent (`aclose`); one never sent (the client hung up before the first byte) releases the
    slot when it is collected, so no slot outlives its stream."""

    def __init__(self, body: AsyncGenerator[bytes, None], slot: Slot) -> None:
        self._body = body
        self._slot = slot
        weakref.finalize(self, slot.release)

    def __aiter__(self) -> _Held:
        return self

    async def __anext__(self) -> bytes:
        return await self._body.__anext__()

    async def aclose(self) -> None:
        try:
            await self._body.aclose()
        finally:
            self._slot.release()
