"""Store an essay's text in HuleEdu's Content Service."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from opentelemetry.trace import SpanKind
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.metrics import count_content
from activities.progress import run_all_heartbeating
from activities.shutdown import DEFAULT_SHUTDOWN_GRACE, within_shutdown_grace
from contracts.batch import STORE_CHUNK, ChunkInput, StoreChunkInput, StoreChunkResult
from contracts.essay import STORE_ESSAY, StoredEssay, StoreEssayInput
from tracing import tracer, with_trace_context
from workflows.policies import MAX_BACKOFF

STORAGE_ID = re.compile(r"^[0-9a-f]{32}$")
# What the essay itself causes: no retry can fix it, so it fails the essay. Every other answer
# (401 or 403 for a credential, 404 for a wrong URL, 408, 429, 5xx) is something outside the
# essay that someone can fix: retried without end, the error visible meanwhile.
REJECTS_THE_ESSAY = frozenset({400, 413, 415, 422})

CONTENT_UNAVAILABLE = "ContentUnavailable"
CONTENT_REJECTED = "ContentRejected"


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    if not value.isdigit():
        return None
    # Never longer than the workflows' own backoff cap, whatever a server asks for.
    return min(timedelta(seconds=int(value)), MAX_BACKOFF)


def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body: for Temporal's failure details and the logs, never for
    the message a client reads (it may name internal hosts)."""
    return response.text[:200].strip()


class ContentActivities:
    """Stores texts through one pooled client, at most `concurrency` requests at a time."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        concurrency: int = 32,
        shutdown_grace: timedelta = DEFAULT_SHUTDOWN_GRACE,
    ) -> None:
        self._http = http
        self._url = url
        self._slots = asyncio.Semaphore(concurrency)
        self._shutdown_grace = shutdown_grace

    @activity.defn(name=STORE_ESSAY)
    async def store_essay(self, inp: StoreEssayInput) -> StoredEssay:
        try:
            # A local activity: the SDK would not cancel it when the worker stops.
            storage_id = await within_shutdown_grace(
                self._store(inp.text, inp.correlation_id, inp.idempotency_key),
                self._shutdown_grace,
            )
        except ApplicationError as exc:
            count_content("rejected" if exc.non_retryable else "unavailable")
            raise
        count_content("stored")
        activity.logger.info(
            "stored essay",
            extra={
                "essay_id": inp.essay_id,
                "correlation_id": inp.correlation_id,
                "storage_id": storage_id,
            },
        )
        return StoredEssay(storage_id=storage_id)

    @activity.defn(name=STORE_CHUNK)
    async def store_chunk(self, inp: StoreChunkInput) -> StoreChunkResult:
        """Store the chunk's essays named in `inp`; return those stored and those rejected.

        Essays that hit a transient error are left out, for the workflow to retry. Only when
        none got through does the activity fail, so Temporal's backoff applies.
        """
        texts = await _chunk_texts()
        result = StoreChunkResult()
        transient: list[ApplicationError] = []

        async def store_one(essay_id: str) -> None:
            try:
                key = f"{inp.submission}/{essay_id}" if inp.submission else None
                result.stored[essay_id] = await self._store(
                    texts[essay_id], inp.correlation_id, key
                )
            except ApplicationError as exc:
                if exc.non_retryable:
                    result.rejected[essay_id] = exc.message
                else:
                    transient.append(exc)

        await run_all_heartbeating(store_one(e) for e in inp.essay_ids)
        count_content("stored", len(result.stored))
        count_content("rejected", len(result.rejected))
        count_content("unavailable", len(transient))
        if transient and not (result.stored or result.rejected):
            raise ApplicationError(
                f"stored none of {len(inp.essay_ids)} essays: {transient[0].message}",
                type=CONTENT_UNAVAILABLE,
                next_retry_delay=transient[0].next_retry_delay,
            )
        activity.logger.info(
            "stored chunk",
            extra={
                "batch_id": inp.batch_id,
                "correlation_id": inp.correlation_id,
                "chunk": inp.chunk_number,
                "stored": len(result.stored),
                "rejected": len(result.rejected),
                "to_retry": len(transient),
            },
        )
        return result

    async def _store(self, text: str, correlation_id: str, idempotency_key: str | None) -> str:
        headers = {"Content-Type": "text/plain; charset=utf-8", "X-Correlation-ID": correlation_id}
        if idempotency_key:
            # A Content Service that honours it returns the first storage id to a repeat, so a
            # repeated event is byte-identical; one that ignores it stores a second copy.
            headers["Idempotency-Key"] = idempotency_key
        async with self._slots:
            try:
                with tracer.start_as_current_span("content service store", kind=SpanKind.CLIENT):
                    response = await self._http.post(
                        self._url, content=text.encode(), headers=with_trace_context(headers)
                    )
            except httpx.TransportError as exc:
                # Connection refused, DNS, timeouts: the service may come back, so retry. No
                # chained cause: the server keeps only ~4 KB of a pending activity's last
                # failure, and the transport's traceback alone is larger.
                # The message is what a client reads; where the service is stays in the details.
                raise ApplicationError(
                    f"the Content Service could not be reached ({type(exc).__name__})",
                    str(exc),
                    type=CONTENT_UNAVAILABLE,
                ) from None
        status = response.status_code
        if status in REJECTS_THE_ESSAY:
            raise ApplicationError(
                f"the Content Service rejected the essay with {status}",
                _excerpt(response),
                type=CONTENT_REJECTED,
                non_retryable=True,
            )
        if status >= 400:
            raise ApplicationError(
                f"the Content Service answered {status}",
                _excerpt(response),
                type=CONTENT_UNAVAILABLE,
                next_retry_delay=_retry_after(response),
            )
        return _storage_id(response)


async def _chunk_texts() -> dict[str, str]:
    """The calling chunk workflow's texts, read from its input (the first event of its history).

    Reading them back costs one small history page; passing them again as this activity's input
    would write every text into history a second time.
    """
    info = activity.info()
    client = activity.client()
    handle = client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [chunk] = await client.data_converter.decode(payloads, [ChunkInput])
        return {essay.essay_id: essay.text for essay in chunk.essays}
    raise ApplicationError(f"workflow {info.workflow_id} has no history", type="ChunkNotFound")


def _storage_id(response: httpx.Response) -> str:
    # A malformed answer is most likely a misconfigured or half-deployed service: retrying
    # keeps the essay until it is fixed, where failing it would lose the essay.
    try:
        storage_id = response.json()["storage_id"]
    except (ValueError, KeyError, TypeError):
        raise ApplicationError(
            f"the Content Service answered {response.status_code} without a storage_id",
            _excerpt(response),
            type=CONTENT_UNAVAILABLE,
        ) from None
    if not isinstance(storage_id, str) or not STORAGE_ID.match(storage_id):
        raise ApplicationError(
            "the Content Service answered with a malformed storage_id",
            repr(storage_id)[:200],
            type=CONTENT_UNAVAILABLE,
        )
    return storage_id
