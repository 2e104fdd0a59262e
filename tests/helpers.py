"""Small helpers shared by the tests: waiting on conditions, reading the topic."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from contracts.batch import STATUS_MEMO, BatchStatus, ChunkStatus
from contracts.events import event_id_for
from contracts.ids import batch_workflow_id, chunk_workflow_id, essay_workflow_id
from workflows.batch import BatchWorkflow


async def wait_until(
    condition: Callable[[], Awaitable[Any]],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
) -> Any:
    """Poll `condition` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        await asyncio.sleep(interval_s)


@dataclass
class Received:
    key: bytes
    value: bytes
    headers: dict[str, bytes]
    offset: int

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.value)


@dataclass
class TopicReader:
    """Reads a topic from the beginning, keeping every message, for assertions."""

    bootstrap: str
    topic: str
    messages: list[Received] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def read_until(self, count: int, timeout_s: float) -> list[Received]:
        """Collect messages until at least `count` have arrived in total."""
        await self._read_while(lambda: len(self.messages) < count, timeout_s, f"{count} messages")
        return self.messages

    async def read_keys(self, keys: set[bytes], timeout_s: float) -> dict[bytes, Received]:
        """Collect messages until one has arrived for every key; the first of each key wins."""

        def missing() -> bool:
            return not keys <= {m.key for m in self.messages}

        await self._read_while(missing, timeout_s, f"messages for {len(keys)} keys")
        first: dict[bytes, Received] = {}
        for m in self.messages:
            first.setdefault(m.key, m)
        return first

    async def _read_while(
        self, unfinished: Callable[[], bool], timeout_s: float, what: str
    ) -> None:
        assert self._consumer is not None
        deadline = time.monotonic() + timeout_s
        while unfinished():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.messages)} messages on {self.topic} after {timeout_s:g}s, "
                    f"still waiting for {what}"
                )
            await self._take(200)

    async def read_for(self, seconds: float) -> list[Received]:
        """Everything that arrives within `seconds`, for a condition on what has arrived."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self._take(100)
        return self.messages

    async def _take(self, timeout_ms: int) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        for records in batches.values():
            for r in records:
                self.messages.append(
                    Received(r.key, r.value, {k: v for k, v in r.headers}, r.offset)
                )


async def expected_event_ids(
    client: Client, singles: Iterable[str] = (), batch_ids: Iterable[str] = ()
) -> dict[str, str]:
    """Essay id -> the event id its first request must carry: derived, as the workflows do,
    from the first run id of the workflow that holds the essay (its own, or its chunk's)."""
    ids: dict[str, str] = {}
    for essay_id in singles:
        run = await _first_run_id(client, essay_workflow_id(essay_id))
        assert run is not None, f"no workflow holds essay {essay_id}"
        ids[essay_id] = str(event_id_for(essay_id, None, run))
    for batch_id in batch_ids:
        for workflow_id in await chunk_workflow_ids(client, batch_id):
            run = await _first_run_id(client, workflow_id)
            handle = client.get_workflow_handle(workflow_id)
            chunk = await (await handle.describe()).memo_value(STATUS_MEMO, type_hint=ChunkStatus)
            for essay in chunk.essays:
                ids[essay.essay_id] = str(event_id_for(essay.essay_id, batch_id, run))
    return ids


async def chunk_workflow_ids(client: Client, batch_id: str) -> list[str]:
    """The workflow ids of the chunks the batch took, in order, from the parent's status."""
    handle = client.get_workflow_handle(batch_workflow_id(batch_id), result_type=BatchStatus)
    description = await handle.describe()
    if description.status == WorkflowExecutionStatus.COMPLETED:
        status = await handle.result()
    else:  # a run just continued-as-new has not written its memo yet: ask it
        status = await description.memo_value(STATUS_MEMO, None, type_hint=BatchStatus)
        status = status or await handle.query(BatchWorkflow.status)
    return [chunk_workflow_id(batch_id, chunk.key) for chunk in status.chunks]


async def _first_run_id(client: Client, workflow_id: str) -> str | None:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.raw_description.workflow_execution_info.first_run_id
