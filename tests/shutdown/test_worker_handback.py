"""A worker SIGTERMed while its activities hang on a frozen Content Service.

It must exit once its grace period ends (not when the stuck requests would time out), handing
back what it holds: the batch chunk's activity returns what it finished, each single essay's
step fails with a retryable error. A second worker, started first as in a rolling deploy, then
finishes every essay once the Content Service thaws.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.api.enums.v1 import EventType, PendingActivityState, PendingWorkflowTaskState
from temporalio.client import Client, WorkflowHistory

from activities.shutdown import WORKER_STOPPING
from api.app import create_app
from devstack.components import ManagedProcess
from tests.conftest import Server
from tests.helpers import TopicReader, chunk_workflow_ids, expected_event_ids, wait_until
from tests.shutdown.deployment import Deployment, terminate

GRACE_S = 2
BATCH_ESSAYS = 30
# Far beyond the grace period: a worker that waited for its requests would be seen waiting.
HUNG_REQUEST_TIMEOUT_S = 120


@contextmanager
def frozen(server: Server) -> Iterator[None]:
    """The server's process stopped (SIGSTOP): connections are accepted, nothing answers."""
    assert server.process.pid is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


async def submit(deployment: Deployment) -> tuple[list[str], str, list[str]]:
    """Three single essays and a triggered batch, through the API's code in this process (the
    API is not what this test stops); their ids."""
    app = create_app(temporal_client=deployment.client, settings=deployment.settings)
    async with app.test_app() as test_app:
        api = test_app.test_client()
        essay_ids = []
        for n in range(3):
            response = await api.post("/v1/trigger-spellcheck", json={"text": f"held essay {n}"})
            assert response.status_code == 202, await response.get_data(as_text=True)
            essay_ids.append((await response.get_json())["essay_id"])
        batch_id = f"held-{uuid.uuid4().hex[:8]}"
        essays = [{"text": f"held batch essay {n}"} for n in range(BATCH_ESSAYS)]
        created = await api.post("/v1/batch", json={"batch_id": batch_id, "essays": essays})
        assert created.status_code == 202, await created.get_data(as_text=True)
        triggered = await api.post(f"/v1/batch/{batch_id}/spellcheck")
        assert triggered.status_code == 202, await triggered.get_data(as_text=True)
        return essay_ids, batch_id, (await created.get_json())["essay_ids"]


async def all_running(
    client: Client, essay_ids: list[str], batch_id: str, worker: ManagedProcess
) -> bool:
    """The chunk's store activity runs on `worker`, and each essay's workflow task (running its
    store step) has started: on `worker` too, which holds the essay's workflow in its cache and
    so gets its tasks first."""
    chunk = (
        await client.get_workflow_handle((await chunk_workflow_ids(client, batch_id))[0]).describe()
    ).raw_description
    if not any(
        a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        and a.last_worker_identity.startswith(f"{worker.pid}@")
        for a in chunk.pending_activities
    ):
        return False
    for essay_id in essay_ids:
        essay = (await client.get_workflow_handle(f"essay-{essay_id}").describe()).raw_description
        started = PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
        if essay.pending_workflow_task.state != started:
            return False
    return True


# How an activity attempt can end, and where its details are.
ENDED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
}


def first_activity_outcome(history: WorkflowHistory) -> tuple[str, str]:
    """How the first activity attempt ended, and the identity of the worker that ran it."""
    started = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[event.event_id] = event.activity_task_started_event_attributes.identity
        elif event.event_type in ENDED:
            attributes = getattr(event, ENDED[event.event_type])
            return EventType.Name(event.event_type), started[attributes.started_event_id]
    raise AssertionError("no activity attempt ended")


def step_failures(history: WorkflowHistory) -> list[str]:
    """The error types of the essay's failed step attempts (local activity markers)."""
    return [
        event.marker_recorded_event_attributes.failure.cause.application_failure_info.type
        or event.marker_recorded_event_attributes.failure.application_failure_info.type
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.HasField("failure")
    ]


async def test_a_stopping_worker_hands_back_hung_activities_within_its_grace_period(
    deployment: Deployment, content_store: Server
) -> None:
    first = await deployment.start_worker(
        worker_graceful_shutdown_s=GRACE_S, content_service_timeout_s=HUNG_REQUEST_TIMEOUT_S
    )
    client = deployment.client
    with frozen(content_store):
        essay_ids, batch_id, batch_essay_ids = await submit(deployment)
        # The second worker starts only now, so the work went to the first; it starts without
        # waiting for the activities, so that they are still in their first attempt.
        second = deployment.spawn_worker()

        async def running() -> bool:
            return await all_running(client, essay_ids, batch_id, first)

        await wait_until(running, timeout_s=60, what="the first worker's activities to start")
        await deployment.worker_ready(second)
        # Still running there (a step whose request timed out meanwhile was retried there).
        await wait_until(running, timeout_s=60, what="the first worker's activities to run")
        stopping_at = time.monotonic()
        code = await terminate(first, within_s=HUNG_REQUEST_TIMEOUT_S)
        stopped_after = time.monotonic() - stopping_at
    assert code == 0, deployment.log(first)
    # The essays' steps have a 30 s timeout and the requests 120 s: neither was waited for.
    assert GRACE_S <= stopped_after < 25, deployment.log(first)
    first_identity = f"{first.pid}@"

    # The chunk's activity handed back (completed, with what it had) instead of timing out.
    chunk = await client.get_workflow_handle(
        (await chunk_workflow_ids(client, batch_id))[0]
    ).fetch_history()
    outcome, identity = first_activity_outcome(chunk)
    assert (outcome, identity.startswith(first_identity)) == (
        "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
        True,
    )

    expected = await expected_event_ids(client, singles=essay_ids, batch_ids=[batch_id])
    assert expected.keys() == {*essay_ids, *batch_essay_ids}
    async with TopicReader(
        deployment.settings.kafka_bootstrap_servers, deployment.settings.kafka_topic
    ) as reader:
        received = await reader.read_keys({e.encode() for e in expected}, timeout_s=120)
    assert {k.decode(): m.body["event_id"] for k, m in received.items()} == expected
    for essay_id in essay_ids:
        history = await client.get_workflow_handle(f"essay-{essay_id}").fetch_history()
        # Its store step was abandoned at the end of the grace period, then retried.
        assert WORKER_STOPPING in step_failures(history)
