"""Starting essays through the API on the real dev server."""

import uuid
from collections.abc import Callable

from quart.typing import TestClientProtocol as ApiClient
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from contracts.essay import STORE_ESSAY, StoredEssay, StoreEssayInput
from settings import Settings
from tests.helpers import wait_until
from workflows.essay import EssayWorkflow

URL = "/v1/trigger-spellcheck"


async def count_runs(client: Client, workflow_id: str) -> int:
    return len([w async for w in client.list_workflows(f'WorkflowId = "{workflow_id}"')])


async def test_healthz(api: ApiClient) -> None:
    response = await api.get("/healthz")
    assert (response.status_code, await response.get_json()) == (200, {"status": "ok"})


async def test_trigger_answers_202_in_the_seeds_shape(
    api: ApiClient, dev_env: WorkflowEnvironment
) -> None:
    response = await api.post(URL, json={"text": "Helo wrold"})
    assert response.status_code == 202
    body = await response.get_json()
    assert set(body) == {"message", "essay_id", "correlation_id"}
    assert body["message"] == "Spellcheck triggered"
    uuid.UUID(body["essay_id"])
    assert response.headers["X-Correlation-ID"] == body["correlation_id"]
    assert response.headers["Location"] == f"/v1/essays/{body['essay_id']}/status"
    description = await dev_env.client.get_workflow_handle(f"essay-{body['essay_id']}").describe()
    assert description.workflow_type == "EssayWorkflow"


async def test_a_valid_correlation_id_is_adopted_an_invalid_one_replaced(
    api: ApiClient,
) -> None:
    adopted = await api.post(URL, json={"text": "a"}, headers={"X-Correlation-ID": "corr_123"})
    assert (await adopted.get_json())["correlation_id"] == "corr_123"
    replaced = await api.post(URL, json={"text": "a"}, headers={"X-Correlation-ID": "bad id!"})
    uuid.UUID((await replaced.get_json())["correlation_id"])


async def test_idempotency_key_returns_the_same_essay_and_starts_nothing_new(
    api: ApiClient, dev_env: WorkflowEnvironment
) -> None:
    headers = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}
    first = await (await api.post(URL, json={"text": "same"}, headers=headers)).get_json()
    second_response = await api.post(URL, json={"text": "same"}, headers=headers)
    assert second_response.status_code == 202
    assert await second_response.get_json() == first
    workflow_id = f"essay-{first['essay_id']}"

    async def listed() -> int:  # visibility lags the start a little on a busy server
        return await count_runs(dev_env.client, workflow_id)

    assert await wait_until(listed, timeout_s=10, what=f"{workflow_id} listed") == 1

    changed = await api.post(URL, json={"text": "different"}, headers=headers)
    assert changed.status_code == 409
    assert set(await changed.get_json()) == {"error", "details"}


async def test_a_client_essay_id_is_idempotent_too(api: ApiClient) -> None:
    essay_id = f"client-{uuid.uuid4().hex[:8]}"
    first = await api.post(URL, json={"text": "t", "essay_id": essay_id})
    again = await api.post(URL, json={"text": "t", "essay_id": essay_id})
    assert first.status_code == again.status_code == 202
    assert (await first.get_json()) == (await again.get_json())
    assert (await first.get_json())["essay_id"] == essay_id


async def test_status_shows_attempts_and_last_error_while_retrying(
    api: ApiClient, dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    @activity.defn(name=STORE_ESSAY)
    async def content_down(inp: StoreEssayInput) -> StoredEssay:
        raise ApplicationError(
            "Content Service unreachable: ConnectError", type="ContentUnavailable"
        )

    async with Worker(
        dev_env.client, task_queue=task_queue, workflows=[EssayWorkflow], activities=[content_down]
    ):
        essay_id = (await (await api.post(URL, json={"text": "t"})).get_json())["essay_id"]

        async def retrying():
            body = await (await api.get(f"/v1/essays/{essay_id}/status")).get_json()
            return body if (body.get("attempts") or 0) >= 2 else None

        status = await wait_until(retrying, timeout_s=20, what="a second store attempt")
    assert status["state"] == "received"
    assert status["retrying_step"] == STORE_ESSAY
    assert "unreachable" in status["last_error"]
    await dev_env.client.get_workflow_handle(f"essay-{essay_id}").terminate("test over")


async def test_a_failed_essay_reports_its_error_without_a_worker(
    api: ApiClient, dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    @activity.defn(name=STORE_ESSAY)
    async def rejected(inp: StoreEssayInput) -> StoredEssay:
        raise ApplicationError("rejected with 400", type="ContentRejected", non_retryable=True)

    async with Worker(
        dev_env.client, task_queue=task_queue, workflows=[EssayWorkflow], activities=[rejected]
    ):
        essay_id = (await (await api.post(URL, json={"text": "t"})).get_json())["essay_id"]
        handle = dev_env.client.get_workflow_handle(f"essay-{essay_id}")

        async def failed():
            return (await handle.describe()).status == WorkflowExecutionStatus.FAILED

        await wait_until(failed, timeout_s=20, what="the workflow to fail")
    # The worker is gone: a closed workflow is answered from its outcome alone.
    response = await api.get(f"/v1/essays/{essay_id}/status")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["state"] == "failed"
    assert "rejected with 400" in body["error"]


async def test_temporal_unreachable_is_503(make_settings: Callable[..., Settings]) -> None:
    from devstack.components import free_port

    settings = make_settings(temporal_address=f"127.0.0.1:{free_port()}")
    app = create_app(settings=settings)
    async with app.test_app() as test_app:
        response = await test_app.test_client().post(URL, json={"text": "hello"})
        assert response.status_code == 503
        body = await response.get_json()
        assert body["error"] == "Service unavailable"
        assert "Temporal" in body["details"]
        assert (await test_app.test_client().get("/healthz")).status_code == 200
