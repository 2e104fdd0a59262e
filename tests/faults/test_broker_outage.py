"""Scenario 1: the broker stops while essays and a batch are going through, then starts again."""

from __future__ import annotations

import time

import pytest

from activities.kafka import PRODUCER_STARTED
from contracts.essay import PUBLISH_SPELLCHECK_REQUESTED
from tests.faults.scenario import Scenario
from tests.faults.stack import FaultStack
from tests.faults.verdict import producers_overlapping

pytestmark = pytest.mark.faults


async def test_nothing_is_lost_when_the_broker_stops_mid_run(fault_stack: FaultStack) -> None:
    async with Scenario(fault_stack, "broker stopped") as run:
        client = run.client
        batch, _, during, [probe] = await run.start_mixed_load(probes=1)

        # The embedded broker forgets what it holds when it stops: read all of it first, with
        # the worker held still so that nothing is acknowledged and then forgotten unread.
        # SIGKILL, because a graceful stop waits seconds for the clients to leave while the
        # worker is held, and there is nothing for this broker to save anyway.
        frozen_at = time.monotonic()
        with fault_stack.worker_frozen():
            await run.counter.drain(timeout_s=run.remaining_s())
            await run.counter.stop()
            fault_stack.broker.process.kill()
        run.fault(
            f"broker stopped after {len(run.counter.published)} events"
            f" (worker held for {time.monotonic() - frozen_at:.1f}s)"
        )

        run.spawn(client.send_singles(during))
        await client.send_singles([probe])
        status = await run.retrying(probe, PUBLISH_SPELLCHECK_REQUESTED)
        assert status["state"] == "stored"
        assert status["last_error"].startswith("the broker")

        await fault_stack.start_broker()
        run.recovered(f"broker started again ({status['attempts']} failed publish attempts seen)")
        await run.counter.start()
        await run.finish(batch.batch_id)
    # The outage replaced the worker's producer, and never ran two at once.
    log = fault_stack.worker.log_path
    assert log is not None and PRODUCER_STARTED in log.read_text(), "no producer was replaced"
    assert producers_overlapping(log) == []
