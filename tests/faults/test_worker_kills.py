"""Scenario 3: the worker is killed (SIGKILL) three times while it runs a batch's activities,
and started again each time."""

from __future__ import annotations

import pytest

from tests.faults.scenario import ESSAYS, Scenario
from tests.faults.stack import FaultStack

pytestmark = pytest.mark.faults

KILLS = 3
# Pages of 50 make chunks of 50: more chunk activities for a kill to land in.
PAGE = 50


async def test_nothing_is_lost_when_the_worker_is_killed_mid_batch(
    fault_stack: FaultStack,
) -> None:
    async with Scenario(fault_stack, "worker killed x3") as run:
        client = run.client
        batch = client.batch(ESSAYS * 2 // 3)
        singles = ESSAYS - len(batch.essays)
        groups = [client.singles(singles // (KILLS + 1)) for _ in range(KILLS)]
        groups.append(client.singles(singles - sum(map(len, groups))))
        run.spawn(client.send_batch(batch, page_size=PAGE))
        run.spawn(client.send_singles(groups[0], concurrency=2))

        for kill in range(1, KILLS + 1):
            worker = f"{fault_stack.worker.pid}@"

            async def batch_activities_of_worker(worker: str = worker) -> int:
                running = await fault_stack.running_activities(batch.batch_id)
                return sum(1 for identity in running if identity.startswith(worker))

            async def mid_activity_or_batch_done() -> str | None:
                if await batch_activities_of_worker():
                    return "in one of the batch's activities"
                status = await fault_stack.api.get(f"/v1/batch/{batch.batch_id}/status")
                # Not created yet (404) or busy (503) says nothing: no "finished_at" in either.
                return "after the batch completed" if status.json().get("finished_at") else None

            # Each worker gets some work done (events published) before it dies, and dies in
            # the middle of one of the batch's activities (the first always does: the batch is
            # storing; a later one only if the batch has work left by then).
            await run.published_at_least((kill - 1) * ESSAYS // 10)
            where = await run.until(
                mid_activity_or_batch_done, f"kill {kill}: a chunk activity", interval_s=0.05
            )
            fault_stack.worker.kill()
            run.fault(f"worker killed ({kill}) {where}, {len(run.counter.published)} events read")

            # The API accepts essays with no worker at all: they wait in Temporal.
            await client.send_singles(groups[kill])

            # The outage lasts until the server has timed out the dead worker's activities.
            async def timed_out() -> bool:
                return await batch_activities_of_worker() == 0

            await run.until(timed_out, f"kill {kill}: the dead worker's activities timed out")
            await fault_stack.start_worker()
            run.recovered(f"worker started again ({kill})")

        await run.finish(batch.batch_id)
