"""How the API labels a workflow start's outcome, from what the start raised."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.metrics import start_outcome


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [
        (None, "started"),
        (WorkflowAlreadyStartedError("essay-1", "EssayWorkflow"), "already_started"),
        (
            WorkflowUpdateFailedError(ApplicationError("closed", type="BatchClosed")),
            "already_started",
        ),
        (WorkflowUpdateRPCTimeoutOrCancelledError(), "unavailable"),
        (RPCError("down", RPCStatusCode.UNAVAILABLE, b""), "unavailable"),
        (RPCError("slow", RPCStatusCode.DEADLINE_EXCEEDED, b""), "unavailable"),
        (RuntimeError("Failed client connect: connection refused"), "unavailable"),
        (RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""), "failed"),
        (ValueError("a bug"), "failed"),
    ],
)
def test_each_outcome(raised: BaseException | None, outcome: str) -> None:
    assert start_outcome(raised) == outcome
