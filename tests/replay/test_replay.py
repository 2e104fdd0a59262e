"""Replay every committed history against today's workflow code.

A change that makes a workflow take a different path for an old history (a non-determinism
error) fails here, before it reaches a running workflow. Such changes go through
`workflow.patched`; until the first tagged release histories may be re-recorded instead
(`make histories`). Histories of older code sit in generation folders (histories/NAME/) until
no run of that code can be open; every one of them is replayed (docs/versioning.md).
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS

ROOT = Path(__file__).with_name("histories")
HISTORIES = sorted(ROOT.rglob("*.json"))


def test_there_are_histories_to_replay() -> None:
    stems = {p.stem for p in HISTORIES}
    assert stems >= {
        "essay_published",
        "essay_rejected",
        "batch_completed_run1",
        "batch_completed_chunk",
        "batch_cancelled_run1",
        "batch_cancelled_chunk",
        # Followed to results: a result by signal, timeouts, retries, a retry window's end.
        "essay_spellchecked",
        "essay_timed_out_retried_run1",
        "batch_timed_out_retried_run1",
        "batch_timed_out_retried_chunk_run1",
    }
    # At least one recorded parent run ended by continuing as new.
    assert any(
        "CONTINUED_AS_NEW" in p.read_text() for p in HISTORIES if "batch_completed" in p.stem
    )


@pytest.mark.parametrize(
    "path", HISTORIES, ids=[str(p.relative_to(ROOT).with_suffix("")) for p in HISTORIES]
)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240 (tiny file)
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
