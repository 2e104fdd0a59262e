"""Scenario 4: the Temporal dev server is killed (SIGKILL) mid-run and started again on the same
port and SQLite file. While it is down the API refuses with 503, and the client sends again."""

from __future__ import annotations

import pytest

from tests.faults.scenario import Scenario
from tests.faults.stack import FaultStack

pytestmark = pytest.mark.faults


async def test_nothing_is_lost_when_temporal_is_killed_mid_run(fault_stack: FaultStack) -> None:
    async with Scenario(fault_stack, "temporal killed") as run:
        client = run.client
        batch, before, during, _ = await run.start_mixed_load()

        fault_stack.temporal.process.kill()
        run.fault(f"Temporal killed after {len(run.counter.published)} events")
        run.spawn(client.send_singles(during))
        status = await fault_stack.api.get(f"/v1/essays/{before[0].essay_id}/status")
        assert status.status_code == 503
        assert status.json()["error"] == "Service unavailable"

        async def refusing() -> bool:
            # Refused, not lost: the API itself stays up and says "retry later".
            assert (await fault_stack.api.get("/healthz")).status_code == 200
            return client.refused >= 2

        await run.until(refusing, "the API to refuse essays with 503")
        await fault_stack.start_temporal()
        run.recovered(f"Temporal started again ({client.refused} requests refused meanwhile)")
        await run.finish(batch.batch_id)
