"""An essay's step when its worker stops: it may finish within the grace period, not beyond it.

The SDK does not cancel local activities at the end of the worker's graceful shutdown, so the
step does it itself (activities/shutdown.py). In this unit test a listener that accepts and never
answers stands in for a hung Content Service; tests/shutdown/test_worker_handback.py freezes the
real one, with real worker processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.content import ContentActivities
from activities.shutdown import WORKER_STOPPING
from contracts.essay import StoreEssayInput
from tests.conftest import HOST, Server, content_url
from tests.helpers import wait_until

ESSAY = StoreEssayInput(essay_id="e1", text="Helo wrold", correlation_id="c1")
GRACE = timedelta(seconds=0.5)


@pytest.fixture
async def silent_url() -> AsyncIterator[tuple[str, list[asyncio.StreamReader]]]:
    """A server that takes requests and never answers; the connections it accepted."""
    accepted: list[asyncio.StreamReader] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(reader)
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(hold, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://{HOST}:{port}/v1/content", accepted


async def test_a_hung_step_is_abandoned_once_the_grace_period_ends(silent_url) -> None:
    url, accepted = silent_url
    env = ActivityEnvironment()
    async with httpx.AsyncClient(timeout=60) as http:
        store = ContentActivities(http, url, shutdown_grace=GRACE).store_essay
        step = asyncio.create_task(env.run(store, ESSAY))

        async def in_flight() -> bool:
            return bool(accepted)

        await wait_until(in_flight, timeout_s=10, what="the request to reach the store")
        stopping_at = time.monotonic()
        env.worker_shutdown()
        with pytest.raises(ApplicationError) as caught:
            await asyncio.wait_for(step, timeout=30)
    waited = time.monotonic() - stopping_at
    assert caught.value.type == WORKER_STOPPING
    assert not caught.value.non_retryable  # the workflow retries it on another worker
    # Not before the grace period, and far sooner than the 60 s the HTTP client would wait.
    assert GRACE.total_seconds() <= waited < 20


async def test_a_step_that_finishes_within_the_grace_period_keeps_its_result(
    content_store: Server,
) -> None:
    env = ActivityEnvironment()
    env.worker_shutdown()  # the worker is already stopping when the step starts
    async with httpx.AsyncClient(timeout=10) as http:
        activities = ContentActivities(http, content_url(content_store), shutdown_grace=GRACE * 20)
        stored = await env.run(activities.store_essay, ESSAY)
        fetched = await http.get(f"{content_url(content_store)}/{stored.storage_id}")
    assert fetched.text == ESSAY.text
