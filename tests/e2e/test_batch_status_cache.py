"""Batch status answers are cached briefly (api/status_cache.py): a client still reads its own
trigger and cancel at once, its added essays within a refresh, and every answer says how old
it is. The policy itself is unit-tested in
tests/unit/test_status_cache.py."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers import wait_until
from tests.stack import Stack


def essays(count: int) -> list[dict]:
    return [{"text": f"essay {n}: " + "lorem ipsum " * 20} for n in range(count)]


async def status(stack: Stack, batch_id: str) -> httpx.Response:
    response = await stack.api.get(f"/v1/batch/{batch_id}/status")
    assert response.status_code == 200, response.text
    assert int(response.headers["Age"]) <= stack.settings.status_max_age_s
    return response


async def test_a_trigger_shows_in_the_very_next_status(stack: Stack) -> None:
    batch_id = f"sc-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post("/v1/batch", json={"batch_id": batch_id, "essays": essays(3)})
    assert created.status_code == 202, created.text
    before = (await status(stack, batch_id)).json()
    assert before["state"] in ("storing", "ready") and before["triggered_at"] is None
    assert (await status(stack, batch_id)).json()["triggered_at"] is None  # the cached copy

    assert (await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    after = (await status(stack, batch_id)).json()
    assert after["state"] in ("spellcheck_requested", "completed")
    assert after["triggered_at"] is not None


async def test_added_essays_show_within_a_refresh_and_a_cancel_at_once(stack: Stack) -> None:
    batch_id = f"sc-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post("/v1/batch", json={"batch_id": batch_id, "essays": essays(2)})
    assert created.status_code == 202, created.text
    assert (await status(stack, batch_id)).json()["counts"]["total"] == 2

    # Added essays do not drop the copy (an uploader's polls would all wait on the server):
    # they show once the refresh the addition started has landed.
    added = await stack.api.post(f"/v1/batch/{batch_id}/essays", json={"essays": essays(3)})
    assert added.status_code == 202, added.text

    async def all_five() -> bool:
        return (await status(stack, batch_id)).json()["counts"]["total"] == 5

    await wait_until(all_five, timeout_s=stack.settings.status_max_age_s + 5, what="5 essays")

    assert (await stack.api.post(f"/v1/batch/{batch_id}/cancel")).status_code == 202
    cancelled = (await status(stack, batch_id)).json()
    assert cancelled["state"] == "cancelled" and cancelled["cancelled_at"] is not None
