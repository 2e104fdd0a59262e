"""`GET /v1/batch/{id}/events` on the real stack (the API under Hypercorn, keys on): a batch's
changes as server-sent events until it is final, `Last-Event-ID`, ownership, the per-client cap,
and the stream's end when the API is stopped.

Here essays end at `published` and batches at `completed` (no spell checker answers), so a
stream ends on `completed` once the batch's workflow has closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from batch_cli.sse import Event, EventReader
from tests.conftest import Server
from tests.helpers import wait_until
from tests.stack import Stack, running_stack

ALICE = "alice-key-0123456789abcdef"
BOB = "bob-key-0123456789abcdefgh"
CAP = 2
# Reads wait for a change or the keep-alive (15 s): longer than the stack client's 10 s.
STREAM_TIMEOUT = httpx.Timeout(10, read=40)
END_WITHIN_S = 60  # a batch of two essays, on a machine shared with other tests
# hypercorn_config.py's graceful_timeout: a stream must not hold the drain that long.
GRACEFUL_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, object]:
    return {"api_keys": f"alice:{ALICE},bob:{BOB}", "max_streams_per_client": CAP}


def key(client_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client_key}"}


def events_path(batch_id: str) -> str:
    return f"/v1/batch/{batch_id}/events"


async def new_batch(stack: Stack, essays: int = 2, client_key: str = ALICE) -> str:
    batch_id = f"ev-{uuid.uuid4().hex[:8]}"
    body = {
        "batch_id": batch_id,
        "essays": [{"essay_id": f"e{n}", "text": f"Essay {n}, helo wrold."} for n in range(essays)],
    }
    created = await stack.api.post("/v1/batch", json=body, headers=key(client_key))
    assert created.status_code == 202, created.text
    return batch_id


async def trigger(stack: Stack, batch_id: str) -> None:
    answer = await stack.api.post(f"/v1/batch/{batch_id}/spellcheck", headers=key(ALICE))
    assert answer.status_code == 202, answer.text


@dataclass
class Streamed:
    response: httpx.Response
    events: list[Event]

    @property
    def data(self) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events]


@contextlib.asynccontextmanager
async def opened(
    stack: Stack, batch_id: str, client_key: str = ALICE, last_event_id: int | str | None = None
) -> AsyncIterator[httpx.Response]:
    headers = key(client_key)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    async with stack.api.stream(
        "GET", events_path(batch_id), headers=headers, timeout=STREAM_TIMEOUT
    ) as response:
        yield response


async def read_to_end(
    stack: Stack,
    batch_id: str,
    last_event_id: int | None = None,
    once_open: Callable[[], Awaitable[None]] | None = None,
) -> Streamed:
    """Every event of a stream, which must end by itself within END_WITHIN_S."""
    events: list[Event] = []
    try:
        async with (
            asyncio.timeout(END_WITHIN_S),
            opened(stack, batch_id, ALICE, last_event_id) as response,
        ):
            assert response.status_code == 200, await response.aread()
            if once_open is not None:
                await once_open()
            reader = EventReader()
            async for line in response.aiter_lines():
                if (event := reader.feed(line)) is not None:
                    events.append(event)
    except TimeoutError:
        status = await stack.api.get(f"/v1/batch/{batch_id}/status", headers=key(ALICE))
        raise AssertionError(
            f"the stream did not end within {END_WITHIN_S} s; events {events}; "
            f"the batch's status now: {status.text}"
        ) from None
    return Streamed(response, events)


async def test_a_stream_sends_each_change_and_ends_with_the_final_state(stack: Stack) -> None:
    batch_id = await new_batch(stack)

    streamed = await read_to_end(stack, batch_id, once_open=lambda: trigger(stack, batch_id))

    assert streamed.response.headers["content-type"].startswith("text/event-stream")
    assert streamed.response.headers["cache-control"] == "no-cache"
    assert streamed.events and {e.event for e in streamed.events} == {"status"}
    data = streamed.data
    ids = [int(e.id or "") for e in streamed.events]
    assert ids == [d["version"] for d in data]
    # Each change has a later version, the workflow's close included: no id repeats.
    assert ids == sorted(set(ids))
    assert [d["final"] for d in data] == [False] * (len(data) - 1) + [True]
    last = data[-1]
    assert last["state"] == "completed"
    assert last["counts"]["published"] == last["counts"]["total"] == 2
    assert set(last) == {"batch_id", "state", "counts", "round", "version", "final"}
    assert (last["batch_id"], last["round"]) == (batch_id, 1)


async def test_last_event_id_skips_what_the_client_has(stack: Stack) -> None:
    batch_id = await new_batch(stack)

    async def ready() -> dict[str, Any] | None:
        answer = (await stack.api.get(f"/v1/batch/{batch_id}/status", headers=key(ALICE))).json()
        return answer if answer["state"] == "ready" else None

    seen = await wait_until(ready, timeout_s=END_WITHIN_S, what="the batch ready")
    # Nothing up to the client's version is sent again: the first event is a later change.
    streamed = await read_to_end(
        stack, batch_id, seen["version"], once_open=lambda: trigger(stack, batch_id)
    )
    assert streamed.data[0]["version"] > seen["version"]
    final = streamed.data[-1]
    assert final["final"] and final["state"] == "completed"

    # Reconnecting after the final event (its id, or any): exactly that event again, then the
    # end, so the client learns why the stream ends.
    for last_event_id in (final["version"], final["version"] + 5, 0):
        again = await read_to_end(stack, batch_id, last_event_id)
        assert again.data == [final]


async def test_a_malformed_last_event_id_is_400(stack: Stack) -> None:
    batch_id = await new_batch(stack, essays=1)
    async with opened(stack, batch_id, last_event_id="seven") as response:
        await response.aread()
    assert response.status_code == 400
    assert response.json()["error"] == "Validation failed"
    assert response.json()["details"][0]["field"] == "Last-Event-ID"


async def test_a_head_request_answers_at_once(stack: Stack) -> None:
    batch_id = await new_batch(stack, essays=1)  # never triggered: a stream would stay open
    async with asyncio.timeout(10):
        response = await stack.api.head(events_path(batch_id), headers=key(ALICE))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")


async def test_an_unknown_batch_and_another_clients_batch_are_404(stack: Stack) -> None:
    alices = await new_batch(stack, essays=1)
    for batch_id, client_key in ((alices, BOB), ("no-such-batch", ALICE)):
        async with opened(stack, batch_id, client_key) as response:
            await response.aread()
        assert response.status_code == 404, response.text
        assert response.json() == {"error": "Not Found", "details": f"no batch with id {batch_id}"}
    async with opened(stack, alices, client_key="not-a-key-0123456789") as response:
        await response.aread()
    assert response.status_code == 401


async def test_a_client_holds_at_most_its_cap_of_streams(stack: Stack) -> None:
    batch_id = await new_batch(stack, essays=1)  # never triggered: its streams stay open
    async with contextlib.AsyncExitStack() as held:
        first = await held.enter_async_context(opened(stack, batch_id))
        for _ in range(CAP - 1):
            assert (await held.enter_async_context(opened(stack, batch_id))).status_code == 200
        assert first.status_code == 200

        async with opened(stack, batch_id) as refused:
            await refused.aread()
        assert refused.status_code == 429
        assert refused.json()["error"] == "Too many requests"
        assert f"at most {CAP} event streams" in refused.json()["details"]
        assert int(refused.headers["Retry-After"]) > 0

        # The cap is per client: another one still gets its stream.
        bobs = await new_batch(stack, essays=1, client_key=BOB)
        async with opened(stack, bobs, BOB) as other:
            assert other.status_code == 200

    # Closed streams give their slots back (once the API has noticed the hang-up).
    async def open_again() -> bool:
        async with opened(stack, batch_id) as response:
            return response.status_code == 200

    await wait_until(open_again, timeout_s=10, what="a slot given back", interval_s=0.2)


async def test_a_stream_ends_cleanly_and_at_once_when_the_api_is_stopped(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with running_stack(dev_env, broker, content_store, tmp_path_factory) as own:
        batch_id = f"ev-{uuid.uuid4().hex[:8]}"
        body = {"batch_id": batch_id, "essays": [{"text": "Held open across a SIGTERM."}]}
        assert (await own.api.post("/v1/batch", json=body)).status_code == 202
        async with own.api.stream("GET", events_path(batch_id), timeout=STREAM_TIMEOUT) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            reader = EventReader()
            while reader.feed(await anext(lines)) is None:  # the batch's current state
                pass
            assert own.api_process.pid is not None
            os.kill(own.api_process.pid, signal.SIGTERM)
            stopped_at = time.monotonic()
            # The answer ends properly (an unfinished one is httpx's RemoteProtocolError),
            # without another event, well before the drain's deadline.
            async with asyncio.timeout(GRACEFUL_TIMEOUT_S):
                rest = [line async for line in lines]
            assert time.monotonic() - stopped_at < GRACEFUL_TIMEOUT_S / 2
            assert not [line for line in rest if line.startswith(("event:", "data:"))]

        async def exited() -> bool:
            return own.api_process.poll() is not None

        await wait_until(exited, timeout_s=GRACEFUL_TIMEOUT_S + 20, what="the API to exit")
        assert own.api_process.poll() == 0
