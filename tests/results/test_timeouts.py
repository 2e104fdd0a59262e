"""No result in time: the request is sent again, then the essay times out, and a retry starts
a new round that the spell checker, back again, answers."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import wait_until
from tests.results.conftest import Following, batch_body


@pytest.fixture(scope="module")
def following_overrides() -> dict[str, object]:
    return {"spellcheck_timeout_s": 2, "spellcheck_max_requests": 2}


async def test_unanswered_essays_time_out_and_a_retry_gets_them_spellchecked(
    following: Following,
):
    api = following.stack.api
    following.checker.stop()
    batch_id = f"late-{uuid.uuid4().hex[:8]}"
    solo = f"late-solo-{uuid.uuid4().hex[:8]}"
    created = await api.post("/v1/batch", json=batch_body(batch_id, 10))
    assert created.status_code == 202, created.text
    early = await api.post(f"/v1/batch/{batch_id}/retry")
    assert early.status_code == 409, early.text  # not spellchecked yet
    assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    answer = await api.post("/v1/trigger-spellcheck", json={"essay_id": solo, "text": "Wrongg."})
    assert answer.status_code == 202

    status = await following.batch_in(batch_id, "spellchecked", timeout_s=60)
    assert status["counts"]["spellcheck_timed_out"] == 10, status["counts"]
    assert all(e["requests"] == 2 for e in status["essays"]["items"])
    assert status["retry_until"] is not None and status["round"] == 1
    # Every essay is final: nothing is left to cancel, while a retry is still taken.
    cancel = await api.post(f"/v1/batch/{batch_id}/cancel")
    assert cancel.status_code == 409 and "spellchecked" in cancel.json()["details"], cancel.text

    async def timed_out() -> dict | None:
        essay = await following.essay(solo)
        return essay if essay["state"] == "spellcheck_timed_out" else None

    assert (await wait_until(timed_out, timeout_s=30, what="the essay to time out"))[
        "requests"
    ] == 2

    # Back before the retry: it answers the old requests first, which come too late to count.
    await following.start(following.checker)
    retried = await api.post(f"/v1/batch/{batch_id}/retry", headers={"Idempotency-Key": "r1"})
    assert retried.status_code == 202, retried.text
    assert retried.json()["essay_count"] == 10 and retried.json()["round"] == 2
    again = await api.post(f"/v1/batch/{batch_id}/retry", headers={"Idempotency-Key": "r1"})
    assert again.status_code == 202 and again.json() == retried.json()
    single = await api.post(f"/v1/essays/{solo}/retry")
    assert single.status_code == 202, single.text
    twice = await api.post(f"/v1/essays/{solo}/retry")
    assert twice.status_code == 409, twice.text

    async def second_round_done() -> dict | None:
        status = await following.batch(batch_id)
        finished = status["state"] == "spellchecked" and status["round"] == 2
        return status if finished and status["counts"]["spellchecked"] == 10 else None

    done = await wait_until(second_round_done, timeout_s=60, what="the retried round")
    assert done["counts"]["total"] == 10 and done["counts"]["spellcheck_timed_out"] == 0
    assert all(e["requests"] >= 3 for e in done["essays"]["items"])

    async def spellchecked() -> dict | None:
        essay = await following.essay(solo)
        return essay if essay["state"] == "spellchecked" else None

    essay = await wait_until(spellchecked, timeout_s=60, what="the essay to be spellchecked")
    assert essay["requests"] == 3 and essay["round"] == 2

    async with following.batch_events() as events:

        async def both_rounds() -> list | None:
            ours = [m.body for m in await events.read_for(0.5) if m.key == batch_id.encode()]
            return ours if len(ours) >= 2 else None

        rounds = await wait_until(both_rounds, timeout_s=30, what="the two rounds' events")
    assert [r["round"] for r in rounds] == [1, 2]
    assert rounds[0]["counts"]["spellcheck_timed_out"] == 10
    assert rounds[1]["counts"]["spellchecked"] == 10
    assert rounds[0]["event_id"] != rounds[1]["event_id"]

    nothing = await api.post(f"/v1/batch/{batch_id}/retry")
    assert nothing.status_code == 409, nothing.text
