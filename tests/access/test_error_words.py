"""What a client reads about a failing dependency says what failed in words, never where it
is: no broker bootstrap servers, no Content Service host or port (those stay in the worker's
logs and in Temporal's failure details, for operators)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from quart.typing import TestClientProtocol as ApiClient
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from api.app import create_app
from devstack.components import free_port
from settings import Settings
from tests.helpers import wait_until
from worker import build_http_client, build_workers


def dead_address() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(params=["content", "broker"])
async def failing(
    request, dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[ApiClient, str]]:
    """The API and a worker whose Content Service (or broker) is at an address nobody serves;
    yields the API and that address."""
    address = dead_address()
    if request.param == "content":
        settings = make_settings(content_service_url=f"http://{address}/v1/content")
    else:
        settings = make_settings(kafka_bootstrap_servers=address, kafka_request_timeout_ms=1000)
    publisher = KafkaPublisher(settings)
    app = create_app(temporal_client=dev_env.client, settings=settings)
    try:
        async with (
            build_http_client(settings) as http,
            build_workers(dev_env.client, settings, http, publisher),
            app.test_app() as test_app,
        ):
            yield test_app.test_client(), address
    finally:
        await publisher.close()


async def test_last_errors_name_no_internal_address(failing) -> None:
    api, address = failing
    port = address.rsplit(":", 1)[1]
    posted = await api.post("/v1/trigger-spellcheck", json={"text": "Helo wrold"})
    essay_id = (await posted.get_json())["essay_id"]
    created = await api.post("/v1/batch", json={"essays": [{"text": "Anuther essay"}]})
    batch_id = (await created.get_json())["batch_id"]
    await api.post(f"/v1/batch/{batch_id}/spellcheck")

    async def essay_error() -> str | None:
        status = await (await api.get(f"/v1/essays/{essay_id}/status")).get_json()
        return status["last_error"] if (status["attempts"] or 0) >= 2 else None

    async def batch_error() -> str | None:
        body = await (await api.get(f"/v1/batch/{batch_id}/status")).get_json()
        [item] = body["essays"]["items"]
        return item["last_error"] if (item["attempts"] or 0) >= 2 else None

    for read in (essay_error, batch_error):
        error = await wait_until(read, timeout_s=60, what=f"a retried step ({read.__name__})")
        assert port not in error and "127.0.0.1" not in error, error
        assert "Content Service" in error or "broker" in error, error
