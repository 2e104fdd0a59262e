"""EssayWorkflow: one essay from accepted to announced, durably."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from activities.events import EventActivities
    from workflows.events import SpellcheckRequestedEvent
    from workflows.models import (
        EssayInput,
        EssayState,
        EssayStatus,
        PublishEventInput,
        StoreEssayInput,
    )

# Dependencies may be down for hours: retry forever (no maximum_attempts and no
# schedule-to-close timeout, either of which would turn an outage into lost essays), backing off
# from 1 s to at most a minute. Errors a retry cannot fix are raised as non-retryable.
DURABLE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,
)
# One POST of at most a few MB; the HTTP client gives up sooner, this only catches a hang.
STORE_ESSAY_OPTS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30), retry_policy=DURABLE_RETRY
)
# One acknowledged send; the producer's request timeout (10 s by default) fails it sooner.
PUBLISH_EVENT_OPTS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30), retry_policy=DURABLE_RETRY
)


@workflow.defn
class EssayWorkflow:
    """Stores the essay's text, then publishes its spellcheck-requested event.

    Query `status` for the essay's state while it runs; the result carries the same shape.
    """

    @workflow.init
    def __init__(self, inp: EssayInput) -> None:
        self._status = EssayStatus(
            essay_id=inp.essay_id, state=EssayState.RECEIVED, correlation_id=inp.correlation_id
        )

    @workflow.run
    async def run(self, inp: EssayInput) -> EssayStatus:
        log_extra = {"essay_id": inp.essay_id, "correlation_id": inp.correlation_id}
        try:
            stored = await workflow.execute_activity_method(
                ContentActivities.store_essay,
                StoreEssayInput(
                    essay_id=inp.essay_id, text=inp.text, correlation_id=inp.correlation_id
                ),
                **STORE_ESSAY_OPTS,
            )
        except ActivityError as exc:
            # Only non-retryable errors get here: the retry policy has no end.
            self._fail(exc)
        self._status.state = EssayState.STORED
        self._status.text_storage_id = stored.storage_id
        workflow.logger.info("essay stored", extra=log_extra)

        event = SpellcheckRequestedEvent.for_essay(
            essay_id=inp.essay_id,
            text_storage_id=stored.storage_id,
            correlation_id=inp.correlation_id,
            timestamp=workflow.now(),
        )
        self._status.event_id = str(event.event_id)
        try:
            await workflow.execute_activity_method(
                EventActivities.publish_event, PublishEventInput(event=event), **PUBLISH_EVENT_OPTS
            )
        except ActivityError as exc:
            self._fail(exc)
        self._status.state = EssayState.PUBLISHED
        workflow.logger.info("essay published", extra=log_extra)
        return self._status

    def _fail(self, exc: ActivityError) -> NoReturn:
        cause = exc.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        self._status.state = EssayState.FAILED
        self._status.error = message
        # Failing the workflow (not returning) makes the run show as Failed in the Temporal UI.
        raise ApplicationError(message, self._status, type="EssayFailed", non_retryable=True)

    @workflow.query
    def status(self) -> EssayStatus:
        return self._status
