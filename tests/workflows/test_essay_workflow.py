"""EssayWorkflow on the time-skipping server, with activities replaced by name.

Backoff between retries takes no real time here, so "retry without end" can be exercised.
"""

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.essay import (
    PUBLISH_SPELLCHECK_REQUESTED,
    STORE_ESSAY,
    EssayInput,
    EssayState,
    PublishedEvent,
    PublishEventInput,
    StoredEssay,
    StoreEssayInput,
)
from contracts.events import event_id_for
from workflows.essay import EssayWorkflow

STORAGE_ID = "c" * 32


class FakeActivities:
    """Stand-ins registered under the real activity names, recording every call."""

    def __init__(self, store_failures: int = 0, publish_failures: int = 0) -> None:
        self.store_failures = store_failures
        self.publish_failures = publish_failures
        self.store_calls = 0
        self.published: list[PublishEventInput] = []
        self.first_run_id = ""
        self.release_store = asyncio.Event()
        self.release_store.set()

    @activity.defn(name=STORE_ESSAY)
    async def store(self, inp: StoreEssayInput) -> StoredEssay:
        self.store_calls += 1
        await self.release_store.wait()
        if self.store_calls <= self.store_failures:
            raise ApplicationError("Content Service answered 503", type="ContentUnavailable")
        return StoredEssay(storage_id=STORAGE_ID)

    @activity.defn(name=PUBLISH_SPELLCHECK_REQUESTED)
    async def publish(self, inp: PublishEventInput) -> PublishedEvent:
        self.published.append(inp)
        if len(self.published) <= self.publish_failures:
            raise ApplicationError("KafkaConnectionError", type="BrokerUnavailable")
        return PublishedEvent(topic="t", partition=0, offset=len(self.published))


def essay() -> EssayInput:
    return EssayInput(essay_id=f"e-{uuid.uuid4()}", text="Helo wrold", correlation_id="corr-1")


def worker(env: WorkflowEnvironment, fakes: FakeActivities, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[EssayWorkflow],
        activities=[fakes.store, fakes.publish],
    )


async def run(env: WorkflowEnvironment, fakes: FakeActivities, inp: EssayInput):
    queue = f"tq-{uuid.uuid4()}"
    async with worker(env, fakes, queue):
        handle = await env.client.start_workflow(
            EssayWorkflow.run, inp, id=f"essay-{inp.essay_id}", task_queue=queue
        )
        fakes.first_run_id = handle.first_execution_run_id
        return await handle.result()


async def test_stores_then_publishes_the_event(ts_env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    inp = essay()
    result = await run(ts_env, fakes, inp)
    assert result.state == EssayState.PUBLISHED
    assert result.text_storage_id == STORAGE_ID
    [published] = fakes.published
    event = published.event
    assert event.event_id == event_id_for(inp.essay_id, None, fakes.first_run_id)
    assert result.event_id == str(event.event_id)
    assert event.entity_ref.entity_id == inp.essay_id
    assert event.entity_ref.parent_id is None
    assert event.text_storage_id == STORAGE_ID
    assert event.system_metadata.correlation_id == "corr-1"


async def test_transient_failures_are_retried_until_they_pass(ts_env: WorkflowEnvironment) -> None:
    # 12 failures back off past the one-minute cap: far beyond any fixed attempt budget.
    fakes = FakeActivities(store_failures=12, publish_failures=5)
    result = await run(ts_env, fakes, essay())
    assert result.state == EssayState.PUBLISHED
    assert fakes.store_calls == 13
    assert len(fakes.published) == 6
    # Every retried publish carried the very same event.
    assert len({p.event.model_dump_json() for p in fakes.published}) == 1


async def test_a_rejected_essay_fails_with_the_error(ts_env: WorkflowEnvironment) -> None:
    class Rejecting(FakeActivities):
        @activity.defn(name=STORE_ESSAY)
        async def store(self, inp: StoreEssayInput) -> StoredEssay:
            self.store_calls += 1
            raise ApplicationError(
                "Content Service rejected the essay with 400",
                type="ContentRejected",
                non_retryable=True,
            )

    fakes = Rejecting()
    with pytest.raises(WorkflowFailureError) as caught:
        await run(ts_env, fakes, essay())
    assert fakes.store_calls == 1
    assert fakes.published == []
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "EssayFailed"
    assert "rejected the essay with 400" in cause.message
    status = cause.details[0]
    assert status["state"] == "failed"
    assert "400" in status["error"]


async def test_query_reports_the_state_while_running(ts_env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    fakes.release_store.clear()
    inp = essay()
    queue = f"tq-{uuid.uuid4()}"
    async with worker(ts_env, fakes, queue):
        handle = await ts_env.client.start_workflow(
            EssayWorkflow.run, inp, id=f"essay-{inp.essay_id}", task_queue=queue
        )
        status = await handle.query(EssayWorkflow.status)
        assert status.state == EssayState.RECEIVED
        assert status.text_storage_id is None
        fakes.release_store.set()
        result = await handle.result()
        assert (await handle.query(EssayWorkflow.status)) == result
    assert result.state == EssayState.PUBLISHED


async def test_the_same_essay_id_accepted_again_after_retention_gets_a_new_event_id(
    ts_env: WorkflowEnvironment,
) -> None:
    # Retention frees the id: a new workflow under it (the default reuse policy allows one
    # once the first is closed) is next term's essay, and no consumer may take it for a repeat.
    fakes = FakeActivities()
    inp = essay()
    await run(ts_env, fakes, inp)
    await run(ts_env, fakes, inp)
    autumn, spring = (p.event for p in fakes.published)
    assert autumn.entity_ref == spring.entity_ref
    assert autumn.event_id != spring.event_id
