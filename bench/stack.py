"""The stack under test, started for one run on free loopback ports and stopped afterwards.

The five pieces `make dev` runs (`devstack.pieces`: Temporal dev server on a SQLite file, the
embedded broker, the content store, the worker and the API) as subprocesses so their memory and
CPU can be read, and beside them the arms they are compared with, each its own process under the
API's Hypercorn settings: the old service (B2), the transactional outbox (B1-B3), B3's ceiling,
and a second API that reads every status from Temporal (B4 with the cache off). Each process
runs in its own session, so stopping it stops whatever it spawned.

As compose runs it: payloads encrypted (a fresh key), essays followed to their results (with no
spell checker and no results consumer running, and a timeout longer than any run, so no essay
is requested twice); tracing off.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from codec.keys import new_key
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
from settings import Settings

HOST = "127.0.0.1"
# Each peer: its app under Hypercorn, and the topic it publishes to.
PEERS = {
    "baseline": ("bench.baseline_service:create_app()", "baseline"),
    "outbox": ("bench.outbox_service:create_app()", "outbox"),
    "ceiling": ("bench.ceiling_service:create_app()", "ceiling"),
    "api-nocache": ("api.app:create_app()", "ours"),
}
TOPIC_PEERS = ("baseline", "outbox", "ceiling")
# Longer than any bench run: with no spell checker, a shorter one would send every essay's
# second request in the middle of a later arm.
FOLLOW_TIMEOUT_S = 86_400.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class BenchStack:
    RUNS = (
        "payloads encrypted as in compose, tracing off, essays followed to their results with "
        "no spell checker or results consumer running"
    )

    def __init__(self, work_dir: Path, log_dir: Path) -> None:
        self.work_dir = work_dir
        self.log_dir = log_dir
        names = ("temporal", "broker", "content", "api", *PEERS)
        self.ports = {name: free_port(HOST) for name in names}
        self.suffix = suffix = uuid.uuid4().hex[:8]
        self.task_queue = f"bench-{suffix}"
        # One topic per service that publishes (the second API shares the worker's). Within a
        # topic, arms are told apart by their essay ids.
        self.topics = {arm: f"bench.{arm}.{suffix}" for arm in ("ours", *TOPIC_PEERS)}
        self.processes: dict[str, ManagedProcess] = {}
        self.background_nice, self.worker_nice = nicenesses(os.environ)
        self.payload_keys = f"bench:{new_key()}"

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
            payload_keys=self.payload_keys,
            spellcheck_timeout_s=FOLLOW_TIMEOUT_S,
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
        self._layout = Layout(self.work_dir, self.log_dir, background_nice=self.background_nice)
        pieces = {p.name: p for p in build_pieces(self.settings(), self._layout)}
        for name in ("temporal", "broker", "content"):
            await self._serve(pieces[name].process)
        for topic in self.topics.values():
            await create_topic(self.bootstrap, topic, timeout_s=START_TIMEOUT_S)
        self._start(pieces["worker"].process)
        await self._serve(pieces["api"].process)
        for name, (app, topic) in PEERS.items():
            settings = self.settings(self.topics[topic]).model_copy(
                update={"port": self.ports[name]}
                | ({"status_max_age_s": 0.0} if name == "api-nocache" else {})
            )
            env = self._app_env(settings) | {"OUTBOX_PATH": str(self.work_dir / "outbox.sqlite")}
            # The API's own server settings (uvloop, in-process, keep-alive, access log), so
            # only the request path differs.
            argv = [str(HYPERCORN_BIN), app, "-c", "file:hypercorn_config.py"]
            await self._serve(self._process(name, argv, env))

    async def restart_worker(self, name: str) -> str:
        """The worker again, publishing to a new topic of its own; the topic's name. The
        embedded broker (Tansu, in memory) stopped serving the worker's topic past about
        120,000 events in one run, so each repetition of B3 and the run at scale begin afresh."""
        topic = self.topics["ours"] = f"bench.ours-{name}.{self.suffix}"
        await create_topic(self.bootstrap, topic, timeout_s=START_TIMEOUT_S)
        self.processes.pop("worker").stop(STOP_TIMEOUT_S)
        pieces = build_pieces(self.settings(topic), self._layout)
        self._start(next(p for p in pieces if p.name == "worker").process)
        return topic

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
