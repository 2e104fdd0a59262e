"""How a single essay's workflow is started: one place, used by the API and by benchmark B1.

B1 compares the API with `start_workflow` called straight: both must make the very same call
(memo, search attributes, summary, id policies) so the ratio measures the HTTP layer alone.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.essay import EssayInput, Following
from contracts.ids import essay_search_attributes, essay_workflow_id
from tracing import current_traceparent
from workflows.essay import EssayWorkflow


def text_digest(text: str) -> str:
    """Kept in the memo: a repeated POST with another text under the same id is a conflict."""
    return hashlib.sha256(text.encode()).hexdigest()


async def start_essay_workflow(
    client: Client,
    *,
    task_queue: str,
    essay_id: str,
    text: str,
    correlation_id: str,
    extra_memo: dict[str, str] | None = None,
    rpc_timeout: timedelta | None = None,
    following: Following | None = None,
) -> None:
    """Start the essay's workflow; WorkflowAlreadyStartedError if its id was used before."""
    await client.start_workflow(
        EssayWorkflow.run,
        EssayInput(
            essay_id=essay_id,
            text=text,
            correlation_id=correlation_id,
            traceparent=current_traceparent(),
            following=following or Following(),
        ),
        id=essay_workflow_id(essay_id),
        task_queue=task_queue,
        # One workflow per essay id, ever (within retention): a retried POST finds it.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        memo={
            "correlation_id": correlation_id,
            "text_sha256": text_digest(text),
            **(extra_memo or {}),
        },
        search_attributes=essay_search_attributes(essay_id),
        static_summary=f"Spellcheck request for essay {essay_id}",
        rpc_timeout=rpc_timeout,
    )
