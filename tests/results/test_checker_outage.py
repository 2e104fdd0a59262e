"""The spell checker away past the timeout, then back: requests are sent again while it is
away, and once it answers every essay ends spellchecked, each counted once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from telemetry.backlog import measure_backlog
from tests.helpers import chunk_workflow_ids, wait_until
from tests.results.conftest import Following, batch_body

ESSAYS = 40


@pytest.fixture(scope="module")
def following_overrides() -> dict[str, object]:
    # The parent looks at a silent chunk every 2 s, so a terminated one is noticed quickly.
    return {"spellcheck_timeout_s": 3, "spellcheck_max_requests": 20, "batch_check_s": 2}


async def test_essays_requested_again_while_the_checker_is_away_end_spellchecked_once(
    following: Following,
):
    api = following.stack.api
    following.checker.stop()
    batch_id = f"away-{uuid.uuid4().hex[:8]}"
    solo = f"away-solo-{uuid.uuid4().hex[:8]}"
    assert (await api.post("/v1/batch", json=batch_body(batch_id, ESSAYS))).status_code == 202
    assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    answer = await api.post("/v1/trigger-spellcheck", json={"essay_id": solo, "text": "Wrongg."})
    assert answer.status_code == 202

    async def requested_again() -> bool:
        status = await following.batch(batch_id)
        essay = await following.essay(solo)
        items = status["essays"]["items"]
        return (
            essay["requests"] >= 2
            and len(items) == ESSAYS
            and min(e["requests"] for e in items) >= 2
        )

    await wait_until(requested_again, timeout_s=60, what="the requests to be sent again")
    assert (await following.batch(batch_id))["state"] == "completed"  # published, not final
    # Waiting for results, nothing is owed an event: the backlog (and its alert) stays empty.
    settings = following.stack.settings

    async def nothing_owed() -> bool:
        backlog = await measure_backlog(
            following.stack.client,
            settings.temporal_task_queue,
            settings.batch_task_queue,
            datetime.now(UTC),
        )
        return backlog.essays == 0

    await wait_until(nothing_owed, timeout_s=30, what="an empty backlog")

    await following.start(following.checker)
    status = await following.batch_in(batch_id, "spellchecked", timeout_s=90)
    counts = status["counts"]
    assert counts["spellchecked"] == ESSAYS and counts["total"] == ESSAYS, counts
    assert {e["state"] for e in status["essays"]["items"]} == {"spellchecked"}

    async def spellchecked() -> dict | None:
        essay = await following.essay(solo)
        return essay if essay["state"] == "spellchecked" else None

    await wait_until(spellchecked, timeout_s=60, what="the single essay to be spellchecked")

    async with following.batch_events() as events:

        async def announced() -> list | None:
            ours = [m.body for m in await events.read_for(0.5) if m.key == batch_id.encode()]
            return ours or None

        await wait_until(announced, timeout_s=30, what="the batch event")
        await events.read_for(2)  # a second event would come right behind the first
    ours = [m.body for m in events.messages if m.key == batch_id.encode()]
    assert len(ours) == 1 and ours[0]["counts"]["spellchecked"] == ESSAYS


async def test_a_terminated_chunks_waiting_essays_end_timed_out_saying_why(
    following: Following,
):
    """The terminate button on a chunk that waits for results: nothing will take them, so its
    essays are final (timed out, with the reason) and the batch is spellchecked, not stuck."""
    api, client = following.stack.api, following.stack.client
    following.checker.stop()
    batch_id = f"terminated-{uuid.uuid4().hex[:8]}"
    try:
        assert (await api.post("/v1/batch", json=batch_body(batch_id, 5))).status_code == 202
        assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
        await following.batch_in(batch_id, "completed", timeout_s=60)  # all published
        (chunk,) = await chunk_workflow_ids(client, batch_id)
        await client.get_workflow_handle(chunk).terminate("an operator's test")
        status = await following.batch_in(batch_id, "spellchecked", timeout_s=60)
    finally:
        await following.start(following.checker)
    assert status["counts"]["spellcheck_timed_out"] == 5, status["counts"]
    assert all("terminated" in e["error"] for e in status["essays"]["items"])
