"""A Temporal call that outlives its rpc_timeout is a 503 ("retry later"), never a 500."""

from collections.abc import Callable

from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings


async def test_a_status_query_nobody_answers_in_time_is_503(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    # No worker polls this test's task queue: the essay's workflow runs, and its status query
    # waits for a worker until the API's own timeout ends the call.
    settings = make_settings(temporal_rpc_timeout_s=1)
    app = create_app(temporal_client=dev_env.client, settings=settings)
    async with app.test_app() as test_app:
        api = test_app.test_client()
        posted = await api.post("/v1/trigger-spellcheck", json={"text": "nobody home"})
        assert posted.status_code == 202
        essay_id = (await posted.get_json())["essay_id"]

        response = await api.get(f"/v1/essays/{essay_id}/status")
        body = await response.get_json()
        assert response.status_code == 503, body
        assert body == {
            "error": "Service unavailable",
            "details": "no worker answered the status query; retry shortly",
        }
    await dev_env.client.get_workflow_handle(f"essay-{essay_id}").terminate("test over")
