"""The whole system as real processes, each of which a fault test can stop, kill or restart.

The Temporal dev server (on a SQLite file, with the WAL pragmas of `make dev`), the broker, the
content store, one worker (`worker.py`) and the API (hypercorn) each run as their own process,
started once for the fault suite. Every piece restarts with the same command line, so on the
same port (and, for Temporal, the same file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError

from devstack.components import (
    ManagedProcess,
    create_topic,
    free_port,
)
from devstack.pieces import Layout, build_pieces
from settings import Settings
from temporal_client import connect
from tests.conftest import HOST, Server
from tests.helpers import wait_until
from tests.stack import start_worker

# A (re)started piece must be ready within this; the machine may be busy with other tests.
READY_TIMEOUT_S = 90


def fault_settings() -> Settings:
    """Every address on a free loopback port; timeouts short enough that an outage shows as
    failed attempts within seconds rather than after the production defaults."""
    return Settings(
        host=HOST,
        port=free_port(),
        temporal_address=f"{HOST}:{free_port()}",
        temporal_task_queue=f"tq-faults-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=f"{HOST}:{free_port()}",
        kafka_topic=f"essay.spellcheck.requested.v1.faults-{uuid.uuid4().hex[:8]}",
        kafka_enable_idempotence=False,
        kafka_request_timeout_ms=2000,
        content_service_url=f"http://{HOST}:{free_port()}/v1/content",
        content_service_timeout_s=2,
        activity_heartbeat_timeout_s=3,
        log_level="WARNING",
        api_metrics_port=0,  # no fixed ports: several processes of each kind come and go
        worker_metrics_port=0,
        spellcheck_max_requests=0,  # these faults are about publishing; tests/results follow
    )


def signal_group(process: ManagedProcess, sig: signal.Signals) -> None:
    """Signal a process and its children (each piece leads its own process group)."""
    assert process.pid is not None and process.alive, f"{process.name} is not running"
    os.killpg(process.pid, sig)


@dataclass
class FaultStack:
    settings: Settings
    temporal: Server
    broker: Server
    content_store: Server
    api_server: Server
    worker: ManagedProcess
    client: Client  # the tests' own view of Temporal (describe, task queue pollers)
    api: httpx.AsyncClient

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    @property
    def topic(self) -> str:
        return self.settings.kafka_topic

    @contextlib.contextmanager
    def worker_frozen(self) -> Iterator[None]:
        """Hold the worker still (SIGSTOP) so that it produces nothing meanwhile; it goes on
        (SIGCONT) where it was, as if it had been slow for a moment."""
        signal_group(self.worker, signal.SIGSTOP)
        try:
            yield
        finally:
            signal_group(self.worker, signal.SIGCONT)

    async def start_worker(self) -> None:
        """Start the worker and wait until Temporal sees it polling the task queues."""
        await start_worker(self.worker, self.client, self.settings)

    async def running_activities(self, batch_id: str) -> list[str]:
        """The workers (identities) Temporal sees running an activity of the batch right now."""
        workers = []
        query = f'BatchId = "{batch_id}" AND ExecutionStatus = "Running"'
        async for execution in self.client.list_workflows(query):
            handle = self.client.get_workflow_handle(execution.id, run_id=execution.run_id)
            description = (await handle.describe()).raw_description
            workers += [
                activity.last_worker_identity
                for activity in description.pending_activities
                if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            ]
        return workers

    async def start_broker(self) -> None:
        """Start the broker (again); it is memory-only, so the topic is made again."""
        await self.broker.start()
        await create_topic(self.bootstrap, self.topic)

    async def start_temporal(self) -> None:
        """Start the dev server (again) on its port and file; ready once it answers."""
        await self.temporal.start()

        async def serving() -> bool:
            try:
                return await self.client.service_client.check_health()
            except (RPCError, RuntimeError):  # not listening yet, or still opening its file
                return False

        await wait_until(serving, timeout_s=READY_TIMEOUT_S, what="Temporal to answer")

    async def restore(self) -> None:
        """Every piece running again, whatever state a failed scenario left it in."""
        if self.worker.alive:
            signal_group(self.worker, signal.SIGCONT)  # it may have been left frozen
        if not self.temporal.process.alive:
            await self.start_temporal()
        if not self.broker.process.alive:
            await self.start_broker()
        if not self.content_store.process.alive:
            await self.content_store.start()
        if not self.worker.alive:
            await self.start_worker()


@contextlib.asynccontextmanager
async def running_stack(root: Path) -> AsyncIterator[FaultStack]:
    """Start every piece under `root` (state and logs), yield the stack, stop everything."""
    settings = fault_settings()
    pieces = {p.name: p for p in build_pieces(settings, Layout(root, root / "logs"))}

    def server(name: str) -> Server:
        return Server(pieces[name].process, pieces[name].ports[0])

    stack = FaultStack(
        settings=settings,
        temporal=server("temporal"),
        broker=server("broker"),
        content_store=server("content"),
        api_server=server("api"),
        worker=pieces["worker"].process,
        client=await connect(settings, lazy=True),
        api=httpx.AsyncClient(base_url=f"http://{HOST}:{settings.port}", timeout=60),
    )
    try:
        # All at once: the worker waits for Temporal by itself and the API connects lazily, and
        # the Python pieces spend seconds of CPU importing, which overlaps with the servers.
        await asyncio.gather(
            stack.start_temporal(),
            stack.start_broker(),
            stack.content_store.start(),
            stack.api_server.start(),
            stack.start_worker(),
        )
        yield stack
    finally:
        await stack.api.aclose()
        if stack.worker.alive:
            signal_group(stack.worker, signal.SIGCONT)
        for piece in (stack.worker, stack.api_server.process, stack.content_store.process):
            piece.stop()
        stack.broker.stop()
        stack.temporal.stop()
