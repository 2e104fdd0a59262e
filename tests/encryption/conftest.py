"""A stack whose API and worker encrypt payloads (PAYLOAD_KEYS), the worker a process of its own
so that nothing in the test process holds the keys: what the tests read is what the server
holds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from codec.keys import new_key
from tests.helpers import wait_until
from tests.stack import Stack, running_stack

KEYS = f"k1:{new_key()}"


@pytest.fixture(scope="module")
async def encrypted(dev_env, broker, content_store, tmp_path_factory) -> AsyncIterator[Stack]:
    async with running_stack(
        dev_env, broker, content_store, tmp_path_factory, worker_process=True, payload_keys=KEYS
    ) as stack:
        yield stack


async def settled(stack: Stack, path: str, states: set[str]) -> dict:
    async def done() -> dict | None:
        answer = await stack.api.get(path)
        assert answer.status_code == 200, answer.text  # the API decrypts memos and results
        body = answer.json()
        return body if body["state"] in states else None

    return await wait_until(done, timeout_s=60, what=f"{path} to settle")
