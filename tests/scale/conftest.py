"""The scale suite's own dev server: with SCALE_LIMITS=shrunk (the default) its limits are cut
so far that any design that leans on them terminates a workflow and fails the test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts.ids import SEARCH_ATTRIBUTES
from tests.conftest import HOST, SCRIPTS
from tests.results.conftest import following  # noqa: F401  (the fixture)
from tests.stack import stack  # noqa: F401  (the fixture)

SHRUNK_LIMITS = {
    "limit.historyCount.suggestContinueAsNew": "300",
    "limit.historyCount.error": "2000",
    "limit.blobSize.error": "1048576",
    "limit.numPendingActivities.error": "50",
}


def limits() -> dict[str, str]:
    return SHRUNK_LIMITS if os.environ.get("SCALE_LIMITS", "shrunk") == "shrunk" else {}


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    extra = [
        arg
        for key, value in limits().items()
        for arg in ("--dynamic-config-value", f"{key}={value}")
    ]
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(SCRIPTS / "temporal"),
        ip=HOST,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=extra,
    )
    yield env
    await env.shutdown()


def limits_name() -> str:
    return "shrunk" if limits() else "default"


@pytest.fixture(scope="module")
def following_overrides() -> dict[str, object]:
    """The spell checker takes a while to work through thousands of requests on this machine:
    requests wait long enough that none goes out again."""
    return {"spellcheck_timeout_s": 900, "spellcheck_max_requests": 3}
