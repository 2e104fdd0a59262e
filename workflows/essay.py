"""EssayWorkflow: one essay from accepted to announced, durably.

Both steps run as local activities: when nothing fails the whole essay is one workflow task,
with no round trip through the server between storing and publishing, which is what a single
essay's latency needs. Each local activity makes one attempt; the retry loop is the workflow's,
with durable timers and the same capped backoff as DURABLE_RETRY, so the status query can show
the step being retried, its attempt count and its last error. A long outage continues-as-new
when the server suggests it, so the history stays bounded however long a dependency is down.

With results followed (`following.on`), the published essay waits for its spellcheck result
(the results consumer's signal): without one for `following.timeout_s` it is requested again as
request n+1, up to `following.max_requests`, then it is `spellcheck_timed_out`. A failed or
timed out essay takes a `retry` (a new request) for `following.retry_window_s`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.batch import CloseInput
    from contracts.essay import (
        PUBLISH_SPELLCHECK_REQUESTED,
        RETRIABLE_STATES,
        STORE_ESSAY,
        EssayInput,
        EssayState,
        EssayStatus,
        PublishedEvent,
        PublishEventInput,
        StoredEssay,
        StoreEssayInput,
    )
    from contracts.events import SpellcheckRequestedEvent, event_id_for
    from contracts.ids import ESSAY_STAGE, ESSAY_WORKFLOW, PUBLISHED_STAGE
    from contracts.results import RESULTS_SIGNAL, ResultsDelivery
    from workflows.policies import backoff
    from workflows.results import UNKNOWN, apply_result, log_ignored

# 409 from the API: a retry of an essay that is not failed or timed out, or too late.
NOT_RETRIABLE = "NotRetriable"

T = TypeVar("T")

# One POST of at most a few MB, or one acknowledged send: the HTTP client and the producer give
# up sooner (10 s by default); this only catches a hang.
STEP_TIMEOUT = timedelta(seconds=30)
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


@workflow.defn(name=ESSAY_WORKFLOW, sandboxed=False)
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
        self._requested_at: datetime | None = inp.resume_requested_at
        self._retry_key: str | None = None
        self._retried = False

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

        if self._status.state == EssayState.STORED:
            await self._request(inp, self._status.requests + 1)
            workflow.logger.info("essay published", extra=log_extra)
        if inp.following.on:
            workflow.upsert_search_attributes([ESSAY_STAGE.value_set(PUBLISHED_STAGE)])
            await self._follow(inp)
        return self._status

    async def _request(self, inp: EssayInput, number: int) -> None:
        """Publish request `number` until the broker has it."""
        wanted = event_id_for(inp.essay_id, None, self._submission, number)
        if self._event is None or self._event.event_id != wanted:
            # Built once (and carried across continue-as-new), so every retry sends the same
            # bytes; built again only after a lost workflow task, from the same inputs. The
            # first request's timestamp is the acceptance; a later one's, when it is sent.
            self._event = SpellcheckRequestedEvent.for_essay(
                essay_id=inp.essay_id,
                text_storage_id=self._status.text_storage_id or "",
                correlation_id=inp.correlation_id,
                timestamp=self._accepted_at if number == 1 else workflow.now(),
                submission=self._submission,
                request=number,
            )
            self._status.event_id = str(self._event.event_id)
        await self._step(
            inp,
            PUBLISH_SPELLCHECK_REQUESTED,
            PublishedEvent,
            PublishEventInput(event=self._event, traceparent=inp.traceparent),
        )
        self._status.requests = number
        self._requested_at = workflow.now()
        if self._status.state in (EssayState.STORED, EssayState.PUBLISHED):
            self._status.state = EssayState.PUBLISHED  # a fast result may have come first

    # -- following the essay to its result ------------------------------------------------------

    async def _follow(self, inp: EssayInput) -> None:
        following = inp.following
        while True:
            while self._status.state == EssayState.PUBLISHED:
                due = (self._requested_at or workflow.now()) + timedelta(
                    seconds=following.timeout_s
                )
                await self._wait(inp, lambda: self._status.state != EssayState.PUBLISHED, due)
                if self._status.state != EssayState.PUBLISHED or workflow.now() < due:
                    continue
                status = self._status
                if status.requests - status.requests_before_round >= following.max_requests:
                    self._status.state = EssayState.SPELLCHECK_TIMED_OUT
                    self._status.error = (
                        f"no spellcheck result for {self._status.requests} requests"
                    )
                else:
                    await self._request(inp, self._status.requests + 1)
            if self._status.state not in RETRIABLE_STATES or following.retry_window_s <= 0:
                return
            until = (self._requested_at or workflow.now()) + timedelta(
                seconds=following.timeout_s + following.retry_window_s
            )
            await self._wait(inp, lambda: self._retried, until)
            if not self._retried:
                return
            self._retried = False
            self._status.round += 1
            self._status.requests_before_round = self._status.requests
            self._status.state = EssayState.PUBLISHED
            self._status.error = None
            await self._request(inp, self._status.requests + 1)

    async def _wait(self, inp: EssayInput, done: Callable[[], bool], until: datetime) -> None:
        """Until `done` or `until`; continues-as-new when the server suggests it."""
        left = (until - workflow.now()).total_seconds()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: done() or workflow.info().is_continue_as_new_suggested(),
                    timeout=timedelta(seconds=left),
                )
        if workflow.info().is_continue_as_new_suggested() and not done():
            await workflow.wait_condition(workflow.all_handlers_finished)
            self._continue_as_new(inp)

    @workflow.signal(name=RESULTS_SIGNAL)
    def spellcheck_results(self, delivery: ResultsDelivery) -> None:
        for result in delivery.results:
            ignored = (
                UNKNOWN
                if result.essay_id != self._status.essay_id
                else apply_result(self._status, result, self._status.correlation_id)
            )
            if ignored is not None:
                self._status.ignored_results[ignored] = (
                    self._status.ignored_results.get(ignored, 0) + 1
                )
                log_ignored(ignored, result, workflow.info().workflow_id)

    @workflow.update
    def retry(self, inp: CloseInput | None = None) -> EssayStatus:
        key = inp.idempotency_key if inp else None
        if not (key is not None and key == self._retry_key):
            self._retry_key = key
            self._retried = True
        return self._status

    @retry.validator
    def _check_retry(self, inp: CloseInput | None = None) -> None:
        key = inp.idempotency_key if inp else None
        if key is not None and key == self._retry_key:
            return
        if self._status.state not in RETRIABLE_STATES or self._retried:
            raise ApplicationError(
                f"the essay is {self._status.state.value}: only an essay whose spellcheck "
                "failed or timed out is retried",
                type=NOT_RETRIABLE,
            )

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
                following=inp.following,
                resume_requested_at=self._requested_at,
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
