"""The stack under test, started for one run on free loopback ports and stopped afterwards.

Temporal dev server (SQLite file with WAL, like `make dev`), the embedded broker, the content
store, the worker and the API (hypercorn) as subprocesses so their memory can be read, plus the
baseline service that B2 compares with. Each process runs in its own session, so stopping it
stops whatever it spawned.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from pathlib import Path

from contracts.ids import SEARCH_ATTRIBUTE_TYPES
from devstack.components import (
    HYPERCORN_BIN,
    REPO_ROOT,
    ManagedProcess,
    api_argv,
    async_wait_for_port,
    broker_argv,
    compile_project,
    content_store_argv,
    create_topic,
    free_port,
    temporal_dev_argv,
    worker_argv,
)
from devstack.pieces import nicenesses
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
        """What the worker runs with (for SDK calls and the ceiling arm's identical clients)."""
        return Settings(
            host=HOST,
            port=self.ports["api"],
            temporal_address=self.address("temporal"),
            temporal_task_queue=self.task_queue,
            kafka_bootstrap_servers=self.bootstrap,
            kafka_topic=topic or self.topics["ours"],
            kafka_enable_idempotence=False,
            content_service_url=self.content_url,
        )

    def _app_env(self, port: int, topic: str) -> dict[str, str]:
        return {
            "TEMPORAL_ADDRESS": self.address("temporal"),
            "TEMPORAL_TASK_QUEUE": self.task_queue,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_TOPIC": topic,
            # The embedded broker rejects an idempotent producer.
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "CONTENT_SERVICE_URL": self.content_url,
            "HOST": HOST,
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",  # log lines reach the files as they happen
            # No metrics endpoints: no fixed ports to collide on, figures comparable with runs
            # made before they existed.
            "API_METRICS_PORT": "0",
            "WORKER_METRICS_PORT": "0",
            "WORKER_NICE": str(self.worker_nice),  # read by the workers only
        }

    # -- life cycle ------------------------------------------------------------------------

    def _process(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, niceness: int = 0
    ) -> None:
        process = ManagedProcess(
            name,
            argv,
            env=env,
            cwd=REPO_ROOT,
            log_path=self.log_dir / f"{name}.log",
            niceness=niceness,
        )
        self.processes[name] = process
        process.start()

    async def _serve(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, niceness: int = 0
    ) -> None:
        self._process(name, argv, env, niceness)
        await async_wait_for_port(HOST, self.ports[name], START_TIMEOUT_S, self.processes[name])

    async def start(self) -> None:
        """Start every piece; the worker is ready only once an essay went through (the caller
        checks that, since it needs the event readers)."""
        compile_project()
        temporal = temporal_dev_argv(
            self.ports["temporal"],
            ui_port=None,
            db_file=self.work_dir / "temporal.db",
            search_attributes=SEARCH_ATTRIBUTE_TYPES,
        )
        # Ranked as `make dev` ranks them: what does a batch's work below the API and the
        # clients (the workers, ours and the naive one, take WORKER_NICE).
        background = self.background_nice
        await self._serve("temporal", temporal, niceness=background)
        await self._serve("broker", broker_argv(self.ports["broker"], HOST), niceness=background)
        content = content_store_argv(self.ports["content"], self.work_dir / "content", HOST)
        await self._serve("content", content, niceness=background)
        for topic in self.topics.values():
            await create_topic(self.bootstrap, topic, timeout_s=START_TIMEOUT_S)
        self._process(
            "worker", worker_argv(), self._app_env(self.ports["api"], self.topics["ours"])
        )
        # B3's naive arm (one workflow per essay) runs on a worker of its own, read on our topic.
        naive_env = {
            **self._app_env(self.ports["api"], self.topics["ours"]),
            "TEMPORAL_TASK_QUEUE": self.naive_task_queue,
        }
        self._process("naive-worker", [sys.executable, "-m", "bench.naive_worker"], naive_env)
        api_env = self._app_env(self.ports["api"], self.topics["ours"])
        await self._serve("api", api_argv(), api_env)
        await self._serve("baseline", self._baseline_argv(), self._baseline_env())

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

    def _baseline_env(self) -> dict[str, str]:
        return self._app_env(self.ports["baseline"], self.topics["baseline"])

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
