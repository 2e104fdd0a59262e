"""Ownership: a batch or essay belongs to the client that created it.

The owner is written into the workflow's memo at start (`owner`), which the workflows never
touch (their own memo upserts write only their status key) and which continue-as-new carries
on. Every route that names a batch or essay reads it with the `describe` it makes anyway (or
one more, for the updates) and answers another client 404, exactly as for an id that does not
exist, so a client cannot even learn which ids others use.

While the API runs open nothing is checked. Workflows started while it was open have no owner
and stay visible to every client after keys are turned on.
"""

from __future__ import annotations

from temporalio.client import WorkflowExecutionDescription, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.access.auth import current_client
from api.http.errors import ApiError
from api.temporal import rpc_timeout
from contracts.ids import OWNER_MEMO


def owner_memo() -> dict[str, str]:
    """The memo entry recording this request's client as the owner (none while open)."""
    client = current_client()
    return {OWNER_MEMO: client} if client else {}


async def is_foreign(description: WorkflowExecutionDescription) -> bool:
    """Does the workflow belong to a client other than this request's?"""
    client = current_client()
    if client is None:
        return False
    owner = await description.memo_value(OWNER_MEMO, None)
    return owner is not None and owner != client


async def is_ours(description: WorkflowExecutionDescription, workflow_type: str) -> bool:
    """Is the workflow of `workflow_type` and not another client's? Anyone with access to the
    namespace can start any workflow under any id, so a workflow found by id is checked."""
    return description.workflow_type == workflow_type and not await is_foreign(description)


async def describe_owned(
    handle: WorkflowHandle, workflow_type: str, not_found: str
) -> WorkflowExecutionDescription:
    """The workflow's description; 404 when it does not exist, is of another type or belongs
    to another client, alike, so a client cannot learn which ids others use by reading."""
    try:
        description = await handle.describe(rpc_timeout=rpc_timeout())
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "Not Found", not_found) from None
        raise
    if not await is_ours(description, workflow_type):
        raise ApiError(404, "Not Found", not_found)
    return description


def id_in_use(kind: str, value: str) -> ApiError:
    """A create under an id someone else holds. Ids are global (events carry them to consumers
    that know no clients), so the id is taken; what it holds stays unseen."""
    return ApiError(409, "Conflict", f"{kind} id {value} is in use; choose another id")


def scoped(value: str) -> str:
    """An `Idempotency-Key` (or any client-chosen string) made distinct per client, so two
    clients that happen to pick the same key get two essays, not each other's."""
    client = current_client()
    return value if client is None else f"{client}\n{value}"
