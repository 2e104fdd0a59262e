"""Scenario 2: the content store stops while essays and a batch are going through, then starts
again on the same port and data directory."""

from __future__ import annotations

import pytest

from contracts.essay import STORE_ESSAY
from tests.faults.scenario import Scenario
from tests.faults.stack import FaultStack

pytestmark = pytest.mark.faults


async def test_nothing_is_lost_when_the_content_store_stops_mid_run(
    fault_stack: FaultStack,
) -> None:
    async with Scenario(fault_stack, "content store stopped") as run:
        client = run.client
        batch, _, during, [probe] = await run.start_mixed_load(probes=1)

        fault_stack.content_store.stop()
        run.fault(f"content store stopped after {len(run.counter.published)} events")
        run.spawn(client.send_singles(during))
        await client.send_singles([probe])
        status = await run.retrying(probe, STORE_ESSAY)
        assert status["state"] == "received"
        assert status["last_error"].startswith("the Content Service could not be reached")

        await fault_stack.content_store.start()
        run.recovered(f"content store started again ({status['attempts']} failed stores seen)")
        await run.finish(batch.batch_id)
