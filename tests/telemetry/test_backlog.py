"""The backlog read from the dev server's visibility store: what it counts, and the oldest's age.

Single essays started on a task queue no worker polls stay running, so they are owed for as long
as the test wants; their start times are the server's, read back with `describe`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.essays.start import start_essay_workflow
from telemetry.backlog import AGE_PRECISION, Backlog, measure_backlog
from tests.helpers import wait_until


@pytest.fixture
async def unpolled_queue(dev_env: WorkflowEnvironment) -> AsyncIterator[list[WorkflowHandle]]:
    """Essays started on a task queue of their own that no worker polls; terminated after."""
    handles: list[WorkflowHandle] = []
    yield handles
    for handle in handles:
        await handle.terminate("test over")


async def start_unpolled(client: Client, task_queue: str) -> WorkflowHandle:
    essay_id = f"backlog-{uuid.uuid4()}"
    await start_essay_workflow(
        client, task_queue=task_queue, essay_id=essay_id, text="owed", correlation_id="c"
    )
    return client.get_workflow_handle(f"essay-{essay_id}")


async def backlog_of(client: Client, task_queue: str, essays: int) -> Backlog | None:
    backlog = await measure_backlog(client, task_queue, f"{task_queue}-batches", datetime.now(UTC))
    return backlog if backlog.essays == essays else None


async def test_running_essays_are_counted_and_the_oldest_found(
    dev_env: WorkflowEnvironment, unpolled_queue: list[WorkflowHandle]
) -> None:
    client, task_queue = dev_env.client, f"tq-{uuid.uuid4()}"
    assert (await backlog_of(client, task_queue, 0)) == Backlog(0, None)

    oldest = await start_unpolled(client, task_queue)
    unpolled_queue.append(oldest)
    oldest_start = (await oldest.describe()).start_time
    # Make the oldest a few seconds older than the others, so its age is the one measured.
    await wait_until(
        lambda: _older_than(oldest_start, seconds=3), timeout_s=10, what="three seconds"
    )
    for _ in range(2):
        unpolled_queue.append(await start_unpolled(client, task_queue))

    backlog = await wait_until(
        lambda: backlog_of(client, task_queue, 3), timeout_s=15, what="3 essays in visibility"
    )
    assert backlog.oldest_owed_at is not None
    # Never earlier than the truth; later by at most the bisection's precision.
    age = (datetime.now(UTC) - oldest_start).total_seconds()
    slack = timedelta(seconds=max(1.0, age * AGE_PRECISION))
    assert oldest_start <= backlog.oldest_owed_at <= oldest_start + slack

    for handle in unpolled_queue:
        await handle.terminate("owed no more")
    unpolled_queue.clear()
    emptied = await wait_until(
        lambda: backlog_of(client, task_queue, 0), timeout_s=15, what="an empty backlog"
    )
    assert emptied.oldest_owed_at is None


async def _older_than(moment: datetime, *, seconds: float) -> bool:
    return datetime.now(UTC) - moment > timedelta(seconds=seconds)


def test_the_age_is_zero_without_a_backlog_and_never_negative() -> None:
    now = datetime.now(UTC)
    assert Backlog(0, None).oldest_age_s(now) == 0
    assert Backlog(2, now - timedelta(seconds=90)).oldest_age_s(now) == 90
    assert Backlog(1, now + timedelta(seconds=1)).oldest_age_s(now) == 0  # clocks may differ
