"""A trigger or cancel whose answer was lost (a 503 after the update may have applied) is sent
again with the same Idempotency-Key and gets its first answer; any other repeat is a 409 that
says what the batch is now."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_batch_flow import essays, wait_for_state
from tests.stack import Stack


@pytest.mark.parametrize("action", ["spellcheck", "cancel"])
async def test_a_repeated_close_with_its_key_gets_its_first_answer(
    stack: Stack, action: str
) -> None:
    batch_id = f"close-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/batch", json={"batch_id": batch_id, "essays": essays(3, "c")}
    )
    assert created.status_code == 202, created.text
    url = f"/v1/batch/{batch_id}/{action}"
    key = {"Idempotency-Key": f"close-{uuid.uuid4()}"}

    first = await stack.api.post(url, headers=key)
    assert first.status_code == 202, first.text
    again = await stack.api.post(url, headers=key)
    assert (again.status_code, again.json()) == (202, first.json())

    for other in ({"Idempotency-Key": f"other-{uuid.uuid4()}"}, {}):
        refused = await stack.api.post(url, headers=other)
        assert refused.status_code == 409, refused.text
        state = "cancelled" if action == "cancel" else "spellcheck_requested|completed"
        details = refused.json()["details"]
        assert any(f"the batch is {s}" in details for s in state.split("|")), details

    await wait_for_state(stack, batch_id, "cancelled" if action == "cancel" else "completed")
    still = await stack.api.post(url, headers=key)  # even once the batch has closed
    assert still.status_code in (202, 409), still.text
