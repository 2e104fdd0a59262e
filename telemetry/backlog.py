"""The backlog: essays accepted but not yet published, and how long the oldest has been owed.

Measured from Temporal's visibility store, never from one worker's memory: every worker on the
task queue reports the same figure (aggregate with `max`, not `sum`), a restarted worker reports
it at once, and essays waiting on no worker at all (all of them down) still count.

- A single essay is owed from its acceptance until its event is out (or it failed): its
  workflow runs until then, and one that follows its result on (waiting for the spell
  checker) marks itself with the EssayStage search attribute. So the running EssayWorkflows
  without that mark are the single essays owed, and each one's start time is when it was
  accepted.
- A batch's essays are owed once the batch is triggered (before that they wait for the teacher,
  not for us) and until the broker acknowledged them, they failed or the batch was cancelled.
  The parent keeps its counts, its trigger time and its oldest unpublished chunk's acceptance in
  its memo, which visibility returns with each listed workflow: one row per batch, however many
  chunks it has.

The cost is bounded whatever the backlog: one count of the running essays, then (when there are
some) about log2(age) + 6 more counts to find the oldest's start time. SQL visibility stores
(the dev server's SQLite, PostgreSQL) list newest first and refuse ORDER BY ("operation is not
supported"), so paging to the oldest would cost a page per thousand essays owed; counting the
runs older than a moment is one query, and bisecting on the moment finds the oldest to within
2% of its age (or a second). Then one listing of the running batches, at most MAX_BATCHES.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.service import RPCError

from contracts.batch import STATUS_MEMO, BatchStatus

log = logging.getLogger(__name__)

BACKLOG_ESSAYS = "huleedu_backlog_essays"
BACKLOG_OLDEST_AGE = "huleedu_backlog_oldest_age_seconds"

# Running batches read per measurement (pages of BATCH_PAGE). A school's open batches are far
# fewer; beyond this the figure undercounts, and the log says so.
MAX_BATCHES = 2000
BATCH_PAGE = 200
# The bisection stops once the oldest start is known to within this share of its age (or 1 s).
AGE_PRECISION = 0.02
# Nothing is owed for longer than this (about a year): the search for the oldest stops here.
MAX_AGE_S = float(2**25)


@dataclass(frozen=True)
class Backlog:
    essays: int  # accepted, not yet published, not failed, not cancelled
    oldest_owed_at: datetime | None  # when the longest-waiting of them became owed

    def oldest_age_s(self, now: datetime) -> float:
        if self.oldest_owed_at is None:
            return 0.0
        return max((now - self.oldest_owed_at).total_seconds(), 0.0)


def _running(workflow_type: str, *task_queues: str) -> str:
    queues = ", ".join(f"'{queue}'" for queue in dict.fromkeys(task_queues))
    return (
        f"WorkflowType = '{workflow_type}' AND ExecutionStatus = 'Running'"
        f" AND TaskQueue IN ({queues})"
    )


async def measure_backlog(
    client: Client, task_queue: str, batch_task_queue: str, now: datetime
) -> Backlog:
    essays, essays_since = await _single_essays(client, task_queue, now)
    # Batches begun before they had a queue of their own still run on the single essays' one.
    batched, batched_since = await _batch_essays(client, task_queue, batch_task_queue)
    owed_since = [t for t in (essays_since, batched_since) if t is not None]
    return Backlog(essays=essays + batched, oldest_owed_at=min(owed_since, default=None))


async def _single_essays(
    client: Client, task_queue: str, now: datetime
) -> tuple[int, datetime | None]:
    # Followed essays wait for their results once published: no event is owed for them.
    query = f"{_running('EssayWorkflow', task_queue)} AND EssayStage IS NULL"
    count = (await client.count_workflows(query)).count
    if not count:
        return 0, None
    return count, await _oldest_start(client, query, now)


async def _oldest_start(client: Client, query: str, now: datetime) -> datetime:
    """The earliest start time among the runs `query` matches (at least one must match).

    A run that continued-as-new counts from its own start: a single essay does so only after
    hundreds of failed attempts (about 11 hours at the 60 s backoff cap).
    """

    async def any_older_than(age_s: float) -> bool:
        moment = (now - timedelta(seconds=age_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return (await client.count_workflows(f"{query} AND StartTime < '{moment}'")).count > 0

    # The oldest is between `younger` and `older` seconds old: widen, then narrow.
    younger, older = 0.0, 1.0
    while older < MAX_AGE_S and await any_older_than(older):
        younger, older = older, older * 2
    while older - younger > max(1.0, younger * AGE_PRECISION):
        middle = (younger + older) / 2
        if await any_older_than(middle):
            younger = middle
        else:
            older = middle
    return now - timedelta(seconds=younger)


async def _batch_essays(
    client: Client, task_queue: str, batch_task_queue: str
) -> tuple[int, datetime | None]:
    essays = 0
    owed_since: list[datetime] = []
    listed = 0
    query = _running("BatchWorkflow", batch_task_queue, task_queue)
    async for execution in client.list_workflows(query, page_size=BATCH_PAGE, limit=MAX_BATCHES):
        listed += 1
        status = await execution.memo_value(STATUS_MEMO, None, type_hint=BatchStatus)
        if status is None or status.triggered_at is None or status.cancelled_at is not None:
            continue  # not written yet (so not triggered yet), waiting for its trigger, or over
        unpublished = status.counts.unpublished
        if unpublished:
            essays += unpublished
            accepted = status.oldest_unpublished_at or status.triggered_at
            owed_since.append(max(accepted, status.triggered_at))
    if listed >= MAX_BATCHES:
        log.warning(
            "backlog: read only the newest %d running batches; the figure may be low",
            MAX_BATCHES,
            extra={"task_queue": task_queue},
        )
    return essays, min(owed_since, default=None)


class BacklogGauges:
    """The two gauges, made with the SDK's meter so they are served with the worker's metrics."""

    def __init__(self, meter: MetricMeter, task_queue: str) -> None:
        meter = meter.with_additional_attributes({"task_queue": task_queue})
        self._essays = meter.create_gauge(
            BACKLOG_ESSAYS, "Essays accepted and owed an event that the broker has not yet acked"
        )
        self._oldest_age = meter.create_gauge_float(
            BACKLOG_OLDEST_AGE, "Seconds the longest-waiting of those essays has been owed"
        )

    def show(self, backlog: Backlog, now: datetime) -> None:
        self._essays.set(backlog.essays)
        self._oldest_age.set(backlog.oldest_age_s(now))


async def monitor_backlog(
    client: Client, task_queue: str, batch_task_queue: str, gauges: BacklogGauges, interval_s: float
) -> None:
    """Measure every `interval_s` until cancelled. While Temporal is unreachable the gauges
    keep their last values, and the log says why they are not moving."""
    while True:
        now = datetime.now(UTC)
        try:
            gauges.show(await measure_backlog(client, task_queue, batch_task_queue, now), now)
        except (RPCError, RuntimeError) as exc:  # Temporal unreachable or too slow
            log.warning("backlog: could not measure it: %s", exc, extra={"task_queue": task_queue})
        except Exception:  # a bug here must stop neither the measuring nor the worker
            log.exception("backlog: measuring failed", extra={"task_queue": task_queue})
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def watch_backlog(
    client: Client, task_queue: str, batch_task_queue: str, meter: MetricMeter, interval_s: float
) -> AsyncIterator[None]:
    """Keep the backlog gauges up to date in the background while the block runs."""
    gauges = BacklogGauges(meter, task_queue)
    task = asyncio.create_task(
        monitor_backlog(client, task_queue, batch_task_queue, gauges, interval_s)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
