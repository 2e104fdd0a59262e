"""The stack under test, started for one run on free loopback ports and stopped afterwards.

The five pieces `make dev` runs (`devstack.pieces`: Temporal dev server on a SQLite file, the
embedded broker, the content store, the worker and the API) as subprocesses so their memory can
be read, plus B3's naive worker and the baseline service that B2 compares with. Each process
runs in its own session, so stopping it stops whatever it spawned.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from pathlib import Path

from devstack.components import (
    HYPERCORN_BIN,
    REPO_ROOT,
    ManagedProcess,
    async_wait_for_port,
    compile_project,
    create_topic,
    free_port,
)
from devstack.pieces import Layout, build_pieces, nicenesses
from hypercorn_config import keep_alive_timeout
from settings import Settings

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class BenchStack:
    def __init__(self, work_dir: Path, log_dir: Path) -> None:
        self.work_dir = work_dir
        self.log_dir = log_dir
        names = ("temporal", "broker", "content", "api", "baseline")
        self.ports = {name: free_port(HOST) for name in names}
        suffix = uuid.uuid4().hex[:8]
        self.task_queue = f"bench-{suffix}"
        self.naive_task_queue = f"bench-naive-{suffix}"
        # One topic per service under test: ours (the worker), the baseline service, and the
        # in-process ceiling arm of B3. Within a topic, arms are told apart by their essay ids.
        self.topics = {arm: f"bench.{arm}.{suffix}" for arm in ("ours", "baseline", "ceiling")}
        self.processes: dict[str, ManagedProcess] = {}
        self.background_nice, self.worker_nice = nicenesses(os.environ)

    # -- addresses -------------------------------------------------------------------------

    def address(self, name: str) -> str:
        return f"{HOST}:{self.ports[name]}"

    @property
    def bootstrap(self) -> str:
        return self.address("broker")

    @property
    def content_url(self) -> str:
        return f"http://{self.address('content')}/v1/content"

    def url(self, name: str) -> str:
        return f"http://{self.address(name)}"

    def settings(self, topic: str | None = None) -> Settings:
        """What the worker and the API run with (also for SDK calls and the ceiling arm's
        identical clients)."""
        return Settings(
            host=HOST,
            port=self.ports["api"],
            temporal_address=self.address("temporal"),
            temporal_task_queue=self.task_queue,
            kafka_bootstrap_servers=self.bootstrap,
            kafka_topic=topic or self.topics["ours"],
            # The embedded broker rejects an idempotent producer.
            kafka_enable_idempotence=False,
            content_service_url=self.content_url,
            log_level="WARNING",
            # No metrics endpoints: no fixed ports to collide on, figures comparable with runs
            # made before they existed.
            api_metrics_port=0,
            worker_metrics_port=0,
            worker_nice=self.worker_nice,
        )

    def _app_env(self, settings: Settings) -> dict[str, str]:
        return {**settings.as_env(), "PYTHONUNBUFFERED": "1"}

    # -- life cycle ------------------------------------------------------------------------

    def _process(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        return ManagedProcess(
            name, argv, env=env, cwd=REPO_ROOT, log_path=self.log_dir / f"{name}.log"
        )

    def _start(self, process: ManagedProcess) -> None:
        self.processes[process.name] = process
        process.start()

    async def _serve(self, process: ManagedProcess) -> None:
        self._start(process)
        port = self.ports[process.name]
        await async_wait_for_port(HOST, port, START_TIMEOUT_S, process)

    async def start(self) -> None:
        """Start every piece; the worker is ready only once an essay went through (the caller
        checks that, since it needs the event readers)."""
        compile_project()
        # Ranked as `make dev` ranks them: what does a batch's work below the API and the
        # clients (the workers, ours and the naive one, take WORKER_NICE).
        layout = Layout(self.work_dir, self.log_dir, background_nice=self.background_nice)
        pieces = {p.name: p for p in build_pieces(self.settings(), layout)}
        for name in ("temporal", "broker", "content"):
            await self._serve(pieces[name].process)
        for topic in self.topics.values():
            await create_topic(self.bootstrap, topic, timeout_s=START_TIMEOUT_S)
        self._start(pieces["worker"].process)
        # B3's naive arm (one workflow per essay) runs on a worker of its own, read on our topic.
        naive = self.settings().model_copy(update={"temporal_task_queue": self.naive_task_queue})
        naive_argv = [sys.executable, "-m", "bench.naive_worker"]
        self._start(self._process("naive-worker", naive_argv, self._app_env(naive)))
        await self._serve(pieces["api"].process)
        baseline = self.settings(self.topics["baseline"]).model_copy(
            update={"port": self.ports["baseline"]}
        )
        await self._serve(self._process("baseline", self._baseline_argv(), self._app_env(baseline)))

    def _baseline_argv(self) -> list[str]:
        # The same server and the same access logging as the API, so only the request path
        # differs.
        return [
            str(HYPERCORN_BIN),
            "bench.baseline_service:create_app()",
            "--bind",
            self.address("baseline"),
            "--access-logfile",
            "-",
            "--keep-alive",
            str(keep_alive_timeout),
        ]

    def check_alive(self) -> None:
        """Raise if any piece has exited: a dead worker would otherwise look like slowness."""
        dead = {n: p.poll() for n, p in self.processes.items() if not p.alive}
        if dead:
            raise RuntimeError(f"stack process(es) exited: {dead}; logs in {self.log_dir}")

    def pids(self) -> dict[str, int]:
        return {n: p.pid for n, p in self.processes.items() if p.pid is not None}

    def stop(self) -> None:
        """Stop in reverse start order (clients before the servers they use)."""
        for name in reversed(list(self.processes)):
            with contextlib.suppress(Exception):
                self.processes[name].stop(STOP_TIMEOUT_S)

    def still_running(self) -> list[str]:
        return [f"{n} (pid {p.pid})" for n, p in self.processes.items() if p.alive]
