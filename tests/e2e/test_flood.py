"""A flood from one client, through a real Hypercorn: it gets 429s, everyone else is served."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.access.conftest import ALL_KEYS, API_KEYS, BARE, BOB, bearer
from tests.conftest import Server
from tests.helpers import wait_until
from tests.stack import Stack, running_stack

PER_S = 5
BURST = 10
FLOODERS = 16
WRONG = "wrong-key-0123456789abcdef"


@pytest.fixture(scope="module")
async def limited(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    async with running_stack(
        dev_env,
        broker,
        content_store,
        tmp_path_factory,
        api_keys=API_KEYS,
        rate_limit_per_s=PER_S,
        rate_limit_burst=BURST,
        log_level="DEBUG",  # every log line the API can write, to search for keys
    ) as stack:
        yield stack


async def test_a_flood_gets_429s_while_probes_and_other_clients_are_served(
    limited: Stack,
) -> None:
    codes: Counter[int] = Counter()
    stop = asyncio.Event()

    async def flood(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            response = await client.get("/v1/essays/nope/status")
            codes[response.status_code] += 1
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
                assert set(response.json()) == {"error", "details"}

    limits = httpx.Limits(max_connections=FLOODERS)
    async with httpx.AsyncClient(
        base_url=limited.api.base_url, headers=bearer(BARE), limits=limits, timeout=30
    ) as flooder:
        started = time.monotonic()
        floods = [asyncio.create_task(flood(flooder)) for _ in range(FLOODERS)]
        try:

            async def flooding() -> bool:
                return codes[429] >= 200

            await wait_until(flooding, timeout_s=60, what="200 refusals of the flood")
            refused_before = codes[429]
            latencies = []
            for n in range(5):
                t0 = time.monotonic()
                health = await limited.api.get("/healthz")
                other = await limited.api.post(
                    "/v1/trigger-spellcheck", json={"text": f"essay {n}"}, headers=bearer(BOB)
                )
                latencies.append(time.monotonic() - t0)
                assert health.status_code == 200
                assert other.status_code == 202, other.text
            assert (await limited.api.get("/readyz")).status_code == 200
            # The flood was on all along: it kept being refused while the others were served.
            assert codes[429] > refused_before
            assert not any(f.done() for f in floods)
        finally:
            stop.set()
            await asyncio.gather(*floods)
        elapsed = time.monotonic() - started

    print(
        f"flood: {sum(codes.values())} requests in {elapsed:.1f}s, {dict(codes)}; "
        f"healthz + other client's POST: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    assert set(codes) == {404, 429}
    # Granted: the burst plus the refill over the flood's length, nothing more.
    assert BURST <= codes[404] <= BURST + PER_S * elapsed + 1
    # Served promptly despite the flood (generous: the machine is small and shared).
    assert max(latencies) < 5


async def test_no_key_reaches_the_api_log(limited: Stack) -> None:
    for key in (*ALL_KEYS, WRONG):
        for headers in (bearer(key), {"X-API-Key": key}):
            await limited.api.get("/v1/batch/nope/status", headers=headers)
    await limited.api.post("/v1/trigger-spellcheck", json={"text": "t"}, headers=bearer(WRONG))

    async def logged() -> str:
        text = limited.api_log.read_text()
        return text if "refused POST '/v1/trigger-spellcheck'" in text else ""

    log = await wait_until(logged, timeout_s=10, what="the refusal in the API's log")
    assert "GET /v1/batch/nope/status" in log  # the access log is in there too
    for key in (*ALL_KEYS, WRONG):
        assert key not in log
