"""`GET /readyz` against a real Temporal server that is there, is not, comes and goes."""

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from quart.typing import TestClientProtocol as ApiClient
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.service.readiness import ReadinessProbe
from devstack.components import ManagedProcess, async_wait_for_port, free_port, temporal_dev_argv
from settings import Settings
from tests.conftest import HOST, START_TIMEOUT_S
from tests.helpers import wait_until


async def test_ready_while_temporal_answers(keyed_api: ApiClient) -> None:
    response = await keyed_api.get("/readyz")
    body = await response.get_json()
    assert response.status_code == 200
    assert (body["status"], body["checks"]) == ("ready", {"temporal": "ok"})


async def test_not_ready_for_a_namespace_temporal_does_not_have(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(temporal_namespace="no-such-namespace")
    async with create_app(temporal_client=dev_env.client, settings=settings).test_app() as app:
        response = await app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "no namespace 'no-such-namespace'" in (await response.get_json())["details"]["temporal"]


async def test_not_ready_until_temporal_comes_then_again_when_it_goes(
    make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    settings = make_settings(temporal_address=f"{HOST}:{port}", readiness_timeout_s=1)
    app = create_app(settings=settings)  # its own lazy client, as in production
    server = ManagedProcess(
        "temporal",
        temporal_dev_argv(port, None, None),
        log_path=tmp_path_factory.mktemp("readyz") / "temporal.log",
    )
    async with app.test_app() as test_app:
        api = test_app.test_client()

        async def readyz() -> tuple[int, dict]:
            response = await api.get("/readyz")
            return response.status_code, await response.get_json()

        started = time.monotonic()
        status, body = await readyz()
        assert status == 503
        assert body["status"] == "not_ready" and body["error"] == "Service unavailable"
        assert "temporal" in body["details"]
        assert time.monotonic() - started < 5  # bounded by READINESS_TIMEOUT_S, not hung
        assert (await api.get("/healthz")).status_code == 200  # alive all the same

        try:
            server.start()
            await async_wait_for_port(HOST, port, START_TIMEOUT_S, server)

            async def ready():
                return (await readyz())[0] == 200

            await wait_until(ready, timeout_s=60, what="/readyz to turn 200")
        finally:
            server.stop()

        async def not_ready():
            return (await readyz())[0] == 503

        await wait_until(not_ready, timeout_s=30, what="/readyz to turn 503 again")


async def test_probes_that_arrive_together_share_one_call() -> None:
    calls = 0
    release = asyncio.Event()

    async def describe_namespace(request, **options):  # the SDK call's shape
        nonlocal calls
        calls += 1
        await release.wait()

    client = SimpleNamespace(
        workflow_service=SimpleNamespace(describe_namespace=describe_namespace)
    )
    probe = ReadinessProbe("default", timeout_s=5)
    checks = [asyncio.ensure_future(probe.check(client)) for _ in range(20)]

    async def called() -> bool:
        return calls > 0

    await wait_until(called, timeout_s=5, what="the first probe call")
    release.set()
    results = await asyncio.gather(*checks)
    assert calls == 1
    assert all(r.ready for r in results)
    assert (await probe.check(client)).ready and calls == 2  # a later probe asks afresh
