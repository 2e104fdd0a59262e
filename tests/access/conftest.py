"""The API with API keys on the real dev server, and a worker with the real activities
(content store, broker), so batches and essays really run."""

from collections.abc import AsyncIterator, Callable

import pytest
from quart.typing import TestClientProtocol
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from api.app import create_app
from settings import Settings
from worker import build_http_client, build_workers

# Two named clients (alice lists two keys, as during a rotation) and one bare key.
ALICE_OLD = "alice-old-0123456789abcdef"
ALICE_NEW = "alice-new-0123456789abcdef"
BOB = "bob-key-0123456789abcdefgh"
BARE = "bare-key-0123456789abcdefg"
API_KEYS = f"alice:{ALICE_OLD},alice:{ALICE_NEW},bob:{BOB},{BARE}"
ALL_KEYS = (ALICE_OLD, ALICE_NEW, BOB, BARE)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def worker(dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]):
    settings = make_settings()
    publisher = KafkaPublisher(settings)
    try:
        async with (
            build_http_client(settings) as http,
            build_workers(dev_env.client, settings, http, publisher),
        ):
            yield
    finally:
        await publisher.close()


@pytest.fixture
async def keyed_api(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings], worker: None
) -> AsyncIterator[TestClientProtocol]:
    app = create_app(temporal_client=dev_env.client, settings=make_settings(api_keys=API_KEYS))
    async with app.test_app() as test_app:
        yield test_app.test_client()
