"""EssayWorkflow: one essay from accepted to announced, durably.

Both steps run as local activities: when nothing fails the whole essay is one workflow task,
with no round trip through the server between storing and publishing, which is what a single
essay's latency needs. Each local activity makes one attempt; the retry loop is the workflow's,
with durable timers and the same capped backoff as DURABLE_RETRY, so the status query can show
the step being retried, its attempt count and its last error. A long outage continues-as-new
when the server suggests it, so the history stays bounded however long a dependency is down.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.essay import (
        PUBLISH_SPELLCHECK_REQUESTED,
        STORE_ESSAY,
        EssayInput,
        EssayState,
        EssayStatus,
        PublishedEvent,
        PublishEventInput,
        StoredEssay,
        StoreEssayInput,
    )
    from contracts.events import SpellcheckRequestedEvent
    from contracts.ids import ESSAY_WORKFLOW
    from workflows.policies import backoff

T = TypeVar("T")

# One POST of at most a few MB, or one acknowledged send: the HTTP client and the producer give
# up sooner (10 s by default); this only catches a hang.
STEP_TIMEOUT = timedelta(seconds=30)
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


@workflow.defn(name=ESSAY_WORKFLOW)
class EssayWorkflow:
    """Stores the essay's text, then publishes its spellcheck-requested event.

    Query `status` for the essay's state while it runs; the result carries the same shape.
    """

    @workflow.init
    def __init__(self, inp: EssayInput) -> None:
        self._status = inp.resume or EssayStatus(
            essay_id=inp.essay_id, state=EssayState.RECEIVED, correlation_id=inp.correlation_id
        )
        self._event = inp.resume_event
        # Fixed at acceptance (the first run's start), so an event built again, after a lost
        # workflow task, carries the same timestamp.
        self._accepted_at = inp.accepted_at or workflow.info().workflow_start_time
        # This acceptance of the essay: its event id and its store's idempotency key.
        self._submission = workflow.info().first_execution_run_id

    @workflow.run
    async def run(self, inp: EssayInput) -> EssayStatus:
        log_extra = {"essay_id": inp.essay_id, "correlation_id": inp.correlation_id}
        if self._status.state == EssayState.RECEIVED:
            stored = await self._step(
                inp,
                STORE_ESSAY,
                StoredEssay,
                StoreEssayInput(
                    essay_id=inp.essay_id,
                    text=inp.text,
                    correlation_id=inp.correlation_id,
                    idempotency_key=f"{self._submission}/{inp.essay_id}",
                ),
            )
            self._status.state = EssayState.STORED
            self._status.text_storage_id = stored.storage_id
            workflow.logger.info("essay stored", extra=log_extra)

        if self._event is None:
            # Built once (and carried across continue-as-new), so every retry sends the same
            # bytes; built again only after a lost workflow task, from the same inputs.
            self._event = SpellcheckRequestedEvent.for_essay(
                essay_id=inp.essay_id,
                text_storage_id=self._status.text_storage_id or "",
                correlation_id=inp.correlation_id,
                timestamp=self._accepted_at,
                submission=self._submission,
            )
            self._status.event_id = str(self._event.event_id)
        await self._step(
            inp,
            PUBLISH_SPELLCHECK_REQUESTED,
            PublishedEvent,
            PublishEventInput(event=self._event, traceparent=inp.traceparent),
        )
        self._status.state = EssayState.PUBLISHED
        workflow.logger.info("essay published", extra=log_extra)
        return self._status

    async def _step(self, inp: EssayInput, name: str, result_type: type[T], arg: Any) -> T:
        """Run the activity `name` until it succeeds; fail the essay on an error no retry can
        fix. Called by name: only the worker imports the activities' I/O."""
        # A run that continued-as-new mid-step resumes its count.
        attempt = (self._status.attempts or 0) if self._status.retrying_step == name else 0
        while True:
            attempt += 1
            try:
                result = await workflow.execute_local_activity(
                    name,
                    arg,
                    result_type=result_type,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=ONE_ATTEMPT,
                )
            except FailureError as exc:
                if isinstance(exc, CancelledError):
                    raise  # the workflow itself is being cancelled
                # A local activity's failure may arrive bare or wrapped in an ActivityError.
                cause = exc.cause if isinstance(exc, ActivityError) else exc
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    self._fail(cause.message)
                self._status.retrying_step = name
                self._status.attempts = attempt
                self._status.last_error = _message(cause)
                asked = cause.next_retry_delay if isinstance(cause, ApplicationError) else None
                await workflow.sleep(backoff(attempt, asked))
                if workflow.info().is_continue_as_new_suggested():
                    self._continue_as_new(inp)
                continue
            self._status.retrying_step = None
            self._status.attempts = None
            self._status.last_error = None
            return result

    def _continue_as_new(self, inp: EssayInput) -> NoReturn:
        stored = self._status.state != EssayState.RECEIVED
        workflow.continue_as_new(
            EssayInput(
                essay_id=inp.essay_id,
                text="" if stored else inp.text,  # once stored, the text is not needed again
                correlation_id=inp.correlation_id,
                resume=self._status,
                resume_event=self._event,
                accepted_at=self._accepted_at,
                traceparent=inp.traceparent,
            )
        )

    def _fail(self, message: str) -> NoReturn:
        self._status.state = EssayState.FAILED
        self._status.error = message
        self._status.retrying_step = None
        # Failing the workflow (not returning) makes the run show as Failed in the Temporal UI.
        raise ApplicationError(message, self._status, type="EssayFailed", non_retryable=True)

    @workflow.query
    def status(self) -> EssayStatus:
        return self._status


def _message(cause: BaseException | None) -> str:
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) or type(cause).__name__
