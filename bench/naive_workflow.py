"""The design a batch is compared against in B3: one workflow per essay, one ordinary activity
per step (the real store and publish activities), no chunks and no local activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.essay import (
        PUBLISH_SPELLCHECK_REQUESTED,
        STORE_ESSAY,
        EssayInput,
        PublishedEvent,
        PublishEventInput,
        StoredEssay,
        StoreEssayInput,
    )
    from contracts.events import SpellcheckRequestedEvent
    from workflows.policies import DURABLE_RETRY

STEP = {"start_to_close_timeout": timedelta(seconds=30), "retry_policy": DURABLE_RETRY}


@workflow.defn
class NaiveEssayWorkflow:
    @workflow.run
    async def run(self, inp: EssayInput) -> None:
        stored = await workflow.execute_activity(
            STORE_ESSAY,
            StoreEssayInput(
                essay_id=inp.essay_id, text=inp.text, correlation_id=inp.correlation_id
            ),
            result_type=StoredEssay,
            **STEP,
        )
        event = SpellcheckRequestedEvent.for_essay(
            essay_id=inp.essay_id,
            text_storage_id=stored.storage_id,
            correlation_id=inp.correlation_id,
            timestamp=workflow.now(),
            submission=workflow.info().first_execution_run_id,
        )
        await workflow.execute_activity(
            PUBLISH_SPELLCHECK_REQUESTED,
            PublishEventInput(event=event),
            result_type=PublishedEvent,
            **STEP,
        )
