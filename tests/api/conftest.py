from collections.abc import AsyncIterator, Callable

import pytest
from quart.typing import TestClientProtocol
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from tests.stack import stack  # noqa: F401  (the fixture: the real API under Hypercorn)


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> AsyncIterator[TestClientProtocol]:
    """The app on the real dev server, lifespan included (test_app runs before_serving)."""
    app = create_app(temporal_client=dev_env.client, settings=make_settings())
    async with app.test_app() as test_app:
        yield test_app.test_client()
