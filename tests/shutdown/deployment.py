"""The pieces a deploy restarts, as real processes: the API under Hypercorn, and the worker.

An orchestrator (Kubernetes, docker) stops a container by sending SIGTERM to its main process,
then waits for it to exit; `terminate` does the same.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from devstack.components import (
    REPO_ROOT,
    ManagedProcess,
    api_argv,
    async_wait_for_port,
    free_port,
    worker_argv,
)
from settings import Settings
from tests.conftest import HOST
from tests.helpers import wait_until

START_TIMEOUT_S = 60  # two cores shared with other test runs: a cold start can take a while


@dataclass
class Api:
    process: ManagedProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Deployment:
    """API and worker processes sharing one task queue and topic, on the test's servers."""

    settings: Settings
    client: Client
    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def _spawn(self, name: str, argv: list[str], settings: Settings) -> ManagedProcess:
        process = ManagedProcess(
            name,
            argv,
            env=settings.as_env(),
            cwd=REPO_ROOT,
            log_path=self.log_dir / f"{name}.log",
        )
        self.processes.append(process)
        process.start()
        return process

    async def start_api(self, *hypercorn_args: str) -> Api:
        """An API on a port of its own; ready once it answers /healthz."""
        port = free_port()
        settings = self.settings.model_copy(update={"port": port})
        name = f"api-{len(self.processes) + 1}"
        process = self._spawn(name, [*api_argv(), *hypercorn_args], settings)
        await async_wait_for_port(HOST, port, START_TIMEOUT_S, process)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://{HOST}:{port}/healthz")).status_code == 200
        return Api(process, port)

    async def start_worker(self, **overrides: object) -> ManagedProcess:
        """A worker process, once it polls both kinds of task (workflow and activity)."""
        process = self.spawn_worker(**overrides)
        await self.worker_ready(process)
        return process

    def spawn_worker(self, **overrides: object) -> ManagedProcess:
        """A worker process, started but perhaps not polling yet (see `worker_ready`)."""
        settings = self.settings.model_copy(update=overrides)
        return self._spawn(f"worker-{len(self.processes) + 1}", worker_argv(), settings)

    async def worker_ready(self, process: ManagedProcess) -> None:
        async def polling() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{process.name} exited: {self.log(process)}")
            return all(
                [
                    await polls(self.client, queue, process)
                    for queue in (self.settings.temporal_task_queue, self.settings.batch_task_queue)
                ]
            )

        await wait_until(polling, timeout_s=START_TIMEOUT_S, what=f"{process.name} to poll")

    def log(self, process: ManagedProcess) -> str:
        """The end of a process's log, for assertion messages."""
        assert process.log_path is not None
        return process.log_path.read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


async def polls(client: Client, task_queue: str, process: ManagedProcess) -> bool:
    """True once `process` polls `task_queue` for workflow tasks and for activity tasks."""
    identity = f"{process.pid}@"  # the SDK's default worker identity is "pid@host"
    for kind in (
        TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    ):
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=kind,
            )
        )
        if not any(p.identity.startswith(identity) for p in described.pollers):
            return False
    return True


def sigterm(process: ManagedProcess) -> None:
    """SIGTERM the process itself, not its group: what an orchestrator sends."""
    assert process.pid is not None and process.alive, f"{process.name} is not running"
    os.kill(process.pid, signal.SIGTERM)


async def exit_code(process: ManagedProcess, within_s: float) -> int:
    """Wait for the process to exit by itself; its exit code."""

    async def exited() -> bool:
        return process.poll() is not None

    await wait_until(exited, timeout_s=within_s, what=f"{process.name} to exit")
    code = process.poll()
    assert code is not None
    return code


async def terminate(process: ManagedProcess, within_s: float) -> int:
    """SIGTERM the process and wait for it to exit; its exit code."""
    sigterm(process)
    return await exit_code(process, within_s)


async def refuses_connections(port: int) -> bool:
    """True when nothing listens on the port any more (the connection is refused at once)."""
    try:
        _, writer = await asyncio.open_connection(HOST, port)
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # Caught in the act of closing: the kernel reset a connection queued on the listening
        # socket as it closed. Not refused yet; the next look decides.
        return False
    writer.close()
    return False
