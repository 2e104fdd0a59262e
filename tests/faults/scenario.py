"""What every fault scenario does around its fault: read the topic throughout, send the load in
the background, wait on conditions within the scenario's own deadline, and finally count.

Sizes come from the environment so that `make test-faults-full` can run the same scenarios
larger: FAULT_ESSAYS essays per scenario (about half of them in one batch), FAULT_DEADLINE_S
seconds for each scenario.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NamedTuple

from tests.faults.counter import EventCounter
from tests.faults.load import Batch, Client, Essay
from tests.faults.report import Row, record
from tests.faults.stack import FaultStack
from tests.faults.verdict import assert_repeats_identical, check_copies, explain, tally
from tests.helpers import expected_event_ids, wait_until

ESSAYS = int(os.environ.get("FAULT_ESSAYS", "300"))
DEADLINE_S = float(os.environ.get("FAULT_DEADLINE_S", "180"))


class MixedLoad(NamedTuple):
    batch: Batch  # half the essays, sent from the start
    before: list[Essay]  # a quarter, as singles sent from the start
    during: list[Essay]  # the rest but the probes, for the scenario to send during its fault
    probes: list[Essay]  # singles whose status shows the fault's retries


class Scenario:
    """One scenario's run: `async with Scenario(stack, name) as run:`, then `await run.finish()`."""

    def __init__(self, stack: FaultStack, name: str, deadline_s: float = DEADLINE_S) -> None:
        self.stack = stack
        self.name = name
        self.deadline_s = deadline_s
        self.client = Client(stack.api, name.split()[0])
        self.counter = EventCounter(stack.bootstrap, stack.topic, self.client.prefix.encode())
        self._tasks: list[asyncio.Task[None]] = []
        self.began = 0.0
        self._outage_began: float | None = None
        self.outage_s = 0.0  # summed over the scenario's outages

    async def __aenter__(self) -> Scenario:
        self.began = time.monotonic()
        await self.counter.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.counter.stop()

    def mark(self, what: str) -> None:
        """Print how far into the scenario something happened (shown with -s)."""
        print(f"[{self.name}] {time.monotonic() - self.began:6.1f}s {what}")

    def fault(self, what: str) -> None:
        self._outage_began = time.monotonic()
        self.mark(what)

    def recovered(self, what: str) -> None:
        assert self._outage_began is not None, "recovered from no fault"
        self.outage_s += time.monotonic() - self._outage_began
        self._outage_began = None
        self.mark(what)

    def remaining_s(self) -> float:
        left = self.deadline_s - (time.monotonic() - self.began)
        assert left > 0, f"{self.name}: past its deadline of {self.deadline_s:g}s"
        return left

    def spawn(self, sending: Coroutine[Any, Any, None]) -> None:
        """Send load in the background; a failure in it fails the scenario at the next wait."""
        self._tasks.append(asyncio.create_task(sending))

    async def until(
        self, condition: Callable[[], Awaitable[Any]], what: str, interval_s: float = 0.1
    ) -> Any:
        """Wait for `condition` within the scenario's deadline, failing early if the load or the
        counting consumer did."""

        async def checked() -> Any:
            for task in self._tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            self.counter.raise_if_failed()
            return await condition()

        return await wait_until(
            checked, timeout_s=self.remaining_s(), what=what, interval_s=interval_s
        )

    async def start_mixed_load(self, probes: int = 0) -> MixedLoad:
        """Send the batch and the first singles in the background; return once a tenth of all
        essays are published, so that the fault lands mid-run."""
        client = self.client
        load = MixedLoad(
            batch=client.batch(ESSAYS // 2),
            before=client.singles(ESSAYS // 4),
            during=client.singles(ESSAYS - ESSAYS * 3 // 4 - probes),
            probes=client.singles(probes),
        )
        self.spawn(client.send_batch(load.batch))
        self.spawn(client.send_singles(load.before))
        await self.published_at_least(ESSAYS // 10)
        return load

    async def published_at_least(self, count: int) -> None:
        async def enough() -> bool:
            return len(self.counter.published) >= count

        await self.until(enough, f"{count} events published")

    async def retrying(self, essay: Essay, step: str, attempts: int = 2) -> dict:
        """Wait until the essay's status shows `attempts` failed attempts of `step`."""

        async def failed_enough() -> dict | None:
            response = await self.stack.api.get(f"/v1/essays/{essay.essay_id}/status")
            assert response.status_code in (200, 503), response.text
            status = response.json()
            if status.get("retrying_step") == step and (status["attempts"] or 0) >= attempts:
                return status
            return None

        return await self.until(failed_enough, f"{attempts} failed attempts of {step}")

    async def finish(self, *batch_ids: str) -> Row:
        """Wait for the load to be sent and every accepted essay's event to be read (or the
        deadline), record the row, then check every event, every stored text and the batches."""
        await self.until(self._sent, "the load to be sent")
        self.mark(
            f"all {self.client.planned} essays accepted"
            f" ({self.client.unanswered} requests sent again after a closed connection)"
        )
        for task in self._tasks:
            await task
        accepted = self.client.accepted.values()
        event_ids = await expected_event_ids(
            self.stack.client,
            singles=[e.essay_id for e in accepted if not e.batch_id],
            batch_ids={e.batch_id for e in accepted if e.batch_id},
        )
        expected = {event_ids[essay.essay_id]: essay for essay in accepted}

        async def all_read() -> bool:
            return expected.keys() <= self.counter.published

        try:
            await self.until(all_read, "every accepted essay's event", interval_s=0.2)
            self.mark("every accepted essay's event read")
        finally:
            row = tally(self, expected)
            record(row)
        assert row.accepted == self.client.planned
        if row.lost:
            missing = [e for i, e in expected.items() if i not in self.counter.published]
            raise AssertionError(f"{row.lost} lost: {await explain(self.stack.api, missing)}")
        assert self.counter.without_id == 0
        assert self.counter.published == expected.keys(), "events nobody asked for"
        assert_repeats_identical(self.counter, expected)
        copies = [(self.counter.first[i], expected[i]) for i in expected]
        await check_copies(self.stack.settings.content_service_url, copies)
        for batch_id in batch_ids:
            await self._batch_completed(batch_id)
        return row

    async def _sent(self) -> bool:
        return all(task.done() for task in self._tasks)

    async def _batch_completed(self, batch_id: str) -> None:
        async def completed() -> dict | None:
            body = (await self.stack.api.get(f"/v1/batch/{batch_id}/status")).json()
            return body if body.get("state") == "completed" else None

        final = await self.until(completed, f"batch {batch_id} to complete")
        assert final["counts"]["published"] == final["counts"]["total"]
