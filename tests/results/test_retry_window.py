"""After the retry window: the workflows of a batch (and an essay) with timed out essays close
as completed, their status still answers, and a retry is refused."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.cli.runner import run_cli
from tests.helpers import chunk_workflow_ids, wait_until
from tests.results.conftest import Following, batch_body


@pytest.fixture(scope="module")
def following_overrides() -> dict[str, object]:
    return {
        "spellcheck_timeout_s": 1,
        "spellcheck_max_requests": 1,
        "spellcheck_retry_window_s": 5,
    }


async def test_the_window_closes_the_workflows_and_a_late_retry_is_refused(
    following: Following,
):
    api, client = following.stack.api, following.stack.client
    following.checker.stop()
    batch_id = f"window-{uuid.uuid4().hex[:8]}"
    solo = f"window-solo-{uuid.uuid4().hex[:8]}"
    assert (await api.post("/v1/batch", json=batch_body(batch_id, 3))).status_code == 202
    assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    answer = await api.post("/v1/trigger-spellcheck", json={"essay_id": solo, "text": "Wrongg."})
    assert answer.status_code == 202

    status = await following.batch_in(batch_id, "spellchecked", timeout_s=60)
    assert status["counts"]["spellcheck_timed_out"] == 3 and status["retry_until"]
    handles = [
        client.get_workflow_handle(workflow_id)
        for workflow_id in (
            f"batch-{batch_id}",
            *await chunk_workflow_ids(client, batch_id),
            f"essay-{solo}",
        )
    ]

    async def all_closed() -> list | None:
        found = [(await h.describe()).status for h in handles]
        return found if WorkflowExecutionStatus.RUNNING not in found else None

    closed = await wait_until(all_closed, timeout_s=60, what="the window to close the workflows")
    assert set(closed) == {WorkflowExecutionStatus.COMPLETED}, closed

    after = await following.batch(batch_id)
    assert after["state"] == "spellchecked" and after["counts"]["spellcheck_timed_out"] == 3
    refused = await api.post(f"/v1/batch/{batch_id}/retry")
    assert refused.status_code == 409, refused.text
    essay = await following.essay(solo)
    assert essay["state"] == "spellcheck_timed_out"
    late = await api.post(f"/v1/essays/{solo}/retry")
    assert late.status_code == 409 and "closed" in late.json()["details"], late.text


async def test_the_command_line_ends_with_code_4_listing_timed_out_essays(
    following: Following, tmp_path
):
    """`batch-service submit` follows the batch to `spellchecked`; essays whose spellcheck
    timed out did not get through: exit code 4, each listed with its reason."""
    following.checker.stop()
    for n in range(2):
        (tmp_path / f"essay-{n}.txt").write_text(f"Essay numbr {n}.\n")
    ran = await run_cli(
        "submit",
        str(tmp_path),
        "--batch-id",
        f"cli-{uuid.uuid4().hex[:8]}",
        "--api-url",
        str(following.stack.api.base_url),
    )
    assert ran.exit_code == 4, ran.stdout + ran.stderr
    assert "spellcheck_timed_out" in ran.stdout and "essay-1" in ran.stdout
