"""ChunkWorkflow: up to 125 essays of one batch, stored, then announced on command.

The API starts a chunk with its texts *before* the parent assigns it (the page's update), and
answers 202 only once both are done: so every chunk a client was answered 202 for exists, and
a chunk the parent never assigned belongs to a request that got no 202. The workflow reads its
input without the texts (ChunkHeader) and holds ids and states only. It reports its counts to
the parent `batch-{id}` by signal and takes `publish` or `cancel` from it. While it waits it
looks at the parent every `batch_check_s`, so it notices a parent that is gone (terminated in
the Temporal UI, failed) or a batch that closed without it, and settles its essays visibly.
Both activities return partial progress instead of failing when some essays got through, so
the workflow always knows exactly which essays are stored and which events the broker
acknowledged, even when it is cancelled halfway.

Once its events are out it follows its essays to their spellcheck results (the results
consumer signals them, a list at a time): a request without a result for `following.timeout_s`
is sent again as request n+1, up to `following.max_requests`, then the essay is timed out. Its
essays that failed or timed out wait `following.retry_window_s` for the batch's retry.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.batch import (
        CHUNK_REPORT_SIGNAL,
        LOOK_AT_BATCH,
        PUBLISH_CHUNK,
        STATUS_MEMO,
        STORE_CHUNK,
        BatchLook,
        ChunkAction,
        ChunkCarried,
        ChunkCommand,
        ChunkHeader,
        ChunkReport,
        ChunkStatus,
        LookAtBatchInput,
        PublishChunkInput,
        PublishChunkResult,
        StoreChunkInput,
        StoreChunkResult,
    )
    from contracts.essay import RETRIABLE_STATES, EssayState
    from contracts.events import SpellcheckRequestedEvent
    from contracts.ids import CHUNK_WORKFLOW, batch_workflow_id
    from contracts.results import RESULTS_SIGNAL, ResultsDelivery
    from workflows.policies import DURABLE_RETRY
    from workflows.results import UNKNOWN, apply_result, log_ignored

# A chunk's activities work for many seconds: they heartbeat, so a killed worker is noticed
# after the input's heartbeat timeout rather than at the start-to-close timeout. When the batch
# is cancelled the workflow waits for the running activity to hand back what it finished.
CHUNK_ACTIVITY_OPTS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(minutes=10),
    retry_policy=DURABLE_RETRY,
    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
)
# A chunk whose batch was never created gives up after this: its client got no 202 (the API
# answers only once the batch has taken the page), and a client retries for less.
NO_BATCH_GIVE_UP = timedelta(days=7)
# One describe of the parent; retried without end, as a Temporal outage may last.
# While results come in, how often the chunk reports them (its memo, and the parent's counts).
REPORT_EVERY = timedelta(seconds=3)
LOOK_OPTS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30), retry_policy=DURABLE_RETRY
)


Result = TypeVar("Result")


@workflow.defn(name=CHUNK_WORKFLOW, sandboxed=False)
class ChunkWorkflow:
    """Query `status` for every essay's state; signal `command` to publish or cancel."""

    @workflow.init
    def __init__(self, inp: ChunkHeader) -> None:
        self._inp = inp
        self._looks_without_batch = 0
        self._command: ChunkAction | None = None
        self._requested_at: datetime | None = None
        self._round = 1
        self._submission = workflow.info().first_execution_run_id
        self._ignored: Counter[str] = Counter()
        if inp.carried is not None:
            carried = inp.carried
            self._essays = {e.essay_id: e for e in carried.essays}
            self._report_seq = carried.report_seq
            self._looks_without_batch = carried.looks_without_batch
            self._command = carried.command
            self._requested_at = carried.requested_at
            self._round = carried.round
            self._submission = carried.submission or self._submission
            self._ignored.update(carried.ignored)
        else:
            start = ChunkStatus.all_received(
                inp.batch_id, inp.chunk_key, [e.essay_id for e in inp.essays]
            )
            self._essays = {e.essay_id: e for e in start.essays}
            self._report_seq = 0
        self._reported = False  # the parent got our latest counts
        self._settled_because = ""  # why the essays still owed an event were cancelled
        self._results_changed = False  # a result was taken since the last report
        self._retry_round = self._round  # the latest round the batch asked for
        self._close = False  # the batch's retry window is over

    @workflow.run
    async def run(self, inp: ChunkHeader) -> ChunkStatus:
        if inp.carried is None:
            await self._report()
            await self._store()
            await self._report()
        following = inp.carried is not None and inp.carried.command is not None
        if not following:
            await self._wait_for_command()
            if self._command == ChunkAction.PUBLISH:
                await self._publish()
            for entry in self._essays.values():
                if entry.state in (EssayState.RECEIVED, EssayState.STORED):
                    entry.state = EssayState.CANCELLED
                    entry.error = self._settled_because or None
        if inp.following.on:
            await self._follow()
        await self._report(done=True)
        return self.status()

    @workflow.signal
    def command(self, command: ChunkCommand) -> None:
        if command.action == ChunkAction.RETRY:
            self._retry_round = max(self._retry_round, command.round)
        elif command.action == ChunkAction.CLOSE:
            self._close = True
        elif self._command != ChunkAction.CANCEL:  # a cancel is final
            self._command = command.action

    @workflow.signal(name=RESULTS_SIGNAL)
    def spellcheck_results(self, delivery: ResultsDelivery) -> None:
        for result in delivery.results:
            entry = self._essays.get(result.essay_id)
            ignored = (
                UNKNOWN if entry is None else apply_result(entry, result, self._inp.correlation_id)
            )
            if ignored is None:
                self._results_changed = True
            else:
                self._ignored[ignored] += 1
                log_ignored(ignored, result, workflow.info().workflow_id)

    @workflow.query
    def status(self) -> ChunkStatus:
        return ChunkStatus(
            batch_id=self._inp.batch_id,
            chunk_key=self._inp.chunk_key,
            essays=list(self._essays.values()),
            ignored_results=dict(self._ignored),
            following=self._inp.following.on,
        )

    # -- waiting for the batch ----------------------------------------------------------------

    async def _wait_for_command(self) -> None:
        """Until the parent says publish or cancel. Every `batch_check_s` without a word, look
        at the parent: a batch that is gone, or closed without this chunk, never will."""
        while self._command is None:
            try:
                await workflow.wait_condition(
                    lambda: self._command is not None,
                    timeout=timedelta(seconds=self._inp.batch_check_s),
                )
            except TimeoutError:
                await self._look_at_batch()
                if self._command is None and workflow.info().is_continue_as_new_suggested():
                    self._continue_as_new()

    async def _look_at_batch(self) -> None:
        look: BatchLook = await workflow.execute_activity(
            LOOK_AT_BATCH,
            LookAtBatchInput(
                batch_id=self._inp.batch_id, chunk_key=self._inp.chunk_key, owner=self._inp.owner
            ),
            result_type=BatchLook,
            **LOOK_OPTS,
        )
        if not look.exists:
            # The API starts a batch's first chunks just before the batch: its create may still
            # come (a client retrying), for as long as a client would retry.
            self._looks_without_batch += 1
            waited = self._looks_without_batch * self._inp.batch_check_s
            if waited >= NO_BATCH_GIVE_UP.total_seconds():
                self._settled_because = look.reason
                self._command = ChunkAction.CANCEL
        elif look.running and look.assigned:
            if not self._reported:
                await self._report()  # an earlier report found no parent yet
        elif look.running and not look.closed_for_pages:
            pass  # our page's update may still come
        elif look.assigned and look.triggered:
            # The parent is gone after its trigger: its client was promised these essays.
            workflow.logger.warning("batch closed after its trigger; publishing: %s", look.reason)
            self._command = ChunkAction.PUBLISH
        else:
            workflow.logger.warning("batch will never command this chunk: %s", look.reason)
            self._settled_because = look.reason
            self._command = ChunkAction.CANCEL

    def _continue_as_new(self) -> None:
        """A long wait, with a look every few minutes or results coming in, grows the history:
        start afresh. The texts are stored by now, so the new run's input carries states only."""
        workflow.continue_as_new(
            ChunkHeader(
                batch_id=self._inp.batch_id,
                correlation_id=self._inp.correlation_id,
                essays=self._inp.essays,
                heartbeat_timeout_s=self._inp.heartbeat_timeout_s,
                chunk_key=self._inp.chunk_key,
                batch_check_s=self._inp.batch_check_s,
                carried=ChunkCarried(
                    essays=list(self._essays.values()),
                    report_seq=self._report_seq,
                    looks_without_batch=self._looks_without_batch,
                    command=self._command,
                    requested_at=self._requested_at,
                    round=self._round,
                    submission=self._submission,
                    ignored=dict(self._ignored),
                ),
                owner=self._inp.owner,
                traceparent=self._inp.traceparent,
                following=self._inp.following,
            )
        )

    # -- following the essays to their results ------------------------------------------------

    def _awaiting(self) -> list[str]:
        return [e for e, entry in self._essays.items() if entry.state == EssayState.PUBLISHED]

    async def _follow(self) -> None:
        """Until every essay is final; then, while some failed or timed out, wait for the
        batch's retry (a new round) until its window is over."""
        following = self._inp.following
        while not self._cancelled():
            await self._await_results()
            if not any(e.state in RETRIABLE_STATES for e in self._essays.values()):
                return
            if following.retry_window_s <= 0 or self._close:
                return
            await self._report(done=True)
            if not await self._wait_for_retry():
                return
            self._round = self._retry_round
            retried = [e for e in self._essays.values() if e.state in RETRIABLE_STATES]
            for entry in retried:
                entry.state = EssayState.PUBLISHED  # owed a result again, once re-requested
                entry.requests_before_round = entry.requests
            await self._send_requests({e.essay_id: e.requests + 1 for e in retried})

    async def _await_results(self) -> None:
        """Until no essay waits for a result: request again what waited `timeout_s`. Results
        are reported (memo and parent) at most every REPORT_EVERY, not one signal at a time,
        so a chunk's history holds a handful of reports however its results trickle in."""
        timeout = timedelta(seconds=self._inp.following.timeout_s)
        report_at: list[datetime] = []  # when the results taken since the last report go out
        while self._awaiting() and not self._cancelled():
            due = (self._requested_at or workflow.now()) + timeout
            if self._results_changed and not report_at:
                report_at.append(workflow.now() + REPORT_EVERY)
            await self._wait(
                lambda: not self._awaiting() or (self._results_changed and not report_at),
                until=min([due, *report_at]),
            )
            if report_at and (workflow.now() >= report_at[0] or not self._awaiting()):
                report_at.clear()
                self._results_changed = False
                await self._report()
            if self._awaiting() and workflow.now() >= due:
                await self._request_again()
        if self._results_changed:
            self._results_changed = False
            await self._report()

    async def _wait(self, done: Callable[[], bool], until: datetime) -> None:
        """Until `done`, a cancel, or `until`; continues-as-new when suggested."""
        left = (until - workflow.now()).total_seconds()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        done()
                        or self._cancelled()
                        or workflow.info().is_continue_as_new_suggested()
                    ),
                    timeout=timedelta(seconds=left),
                )
        if workflow.info().is_continue_as_new_suggested() and not done():
            if self._results_changed:
                await self._report()
            self._continue_as_new()

    async def _request_again(self) -> None:
        """No result within the timeout: request n+1, or timed out after the last request."""
        again: dict[str, int] = {}
        for essay_id in self._awaiting():
            entry = self._essays[essay_id]
            if entry.requests - entry.requests_before_round >= self._inp.following.max_requests:
                entry.state = EssayState.SPELLCHECK_TIMED_OUT
                entry.error = f"no spellcheck result for {entry.requests} requests"
            else:
                again[essay_id] = entry.requests + 1
        await self._send_requests(again)
        await self._report()

    async def _wait_for_retry(self) -> bool:
        """True when the batch asked for a new round; False when its window is over (the
        batch said so, or it is gone once the window has passed)."""
        window = timedelta(seconds=self._inp.following.retry_window_s)
        until = workflow.now() + window
        while True:
            await self._wait(lambda: self._retry_round > self._round or self._close, until=until)
            if self._retry_round > self._round:
                return True
            if self._close or self._cancelled():
                return False
            if workflow.now() >= until:
                look: BatchLook = await workflow.execute_activity(
                    LOOK_AT_BATCH,
                    LookAtBatchInput(
                        batch_id=self._inp.batch_id,
                        chunk_key=self._inp.chunk_key,
                        owner=self._inp.owner,
                    ),
                    result_type=BatchLook,
                    **LOOK_OPTS,
                )
                if not look.running:
                    return False
                until = workflow.now() + timedelta(seconds=self._inp.batch_check_s)

    # -- storing and publishing ---------------------------------------------------------------

    async def _store(self) -> None:
        while not self._cancelled():
            todo = [e for e, entry in self._essays.items() if entry.state == EssayState.RECEIVED]
            if not todo:
                return
            result = await self._until_done_or_cancelled(
                workflow.start_activity(
                    STORE_CHUNK,
                    StoreChunkInput(
                        batch_id=self._inp.batch_id,
                        chunk_number=self._inp.chunk_number,
                        correlation_id=self._inp.correlation_id,
                        essay_ids=todo,
                        submission=self._submission,
                    ),
                    result_type=StoreChunkResult,
                    **CHUNK_ACTIVITY_OPTS,
                    heartbeat_timeout=timedelta(seconds=self._inp.heartbeat_timeout_s),
                )
            )
            if result is None:
                return
            for essay_id, storage_id in result.stored.items():
                self._essays[essay_id].state = EssayState.STORED
                self._essays[essay_id].text_storage_id = storage_id
            for essay_id, error in result.rejected.items():
                self._essays[essay_id].state = EssayState.FAILED
                self._essays[essay_id].error = error

    async def _publish(self) -> None:
        await self._send_requests(
            {e.essay_id: 1 for e in self._essays.values() if e.state == EssayState.STORED}
        )

    async def _send_requests(self, requests: dict[str, int]) -> None:
        """Publish request number `requests[essay]` for each essay until the broker has them
        all (or the batch is cancelled). Built once, so every retry of the send is
        byte-identical (same id, same timestamp)."""
        if not requests:
            return
        now = workflow.now()
        events = {
            essay_id: SpellcheckRequestedEvent.for_essay(
                essay_id=essay_id,
                text_storage_id=self._essays[essay_id].text_storage_id or "",
                correlation_id=self._inp.correlation_id,
                timestamp=now,
                submission=self._submission,
                batch_id=self._inp.batch_id,
                request=number,
            )
            for essay_id, number in requests.items()
        }
        for essay_id, event in events.items():
            self._essays[essay_id].event_id = str(event.event_id)
        self._requested_at = now
        while events and not self._cancelled():
            result = await self._until_done_or_cancelled(
                workflow.start_activity(
                    PUBLISH_CHUNK,
                    PublishChunkInput(
                        events=list(events.values()), traceparent=self._inp.traceparent
                    ),
                    result_type=PublishChunkResult,
                    **CHUNK_ACTIVITY_OPTS,
                    heartbeat_timeout=timedelta(seconds=self._inp.heartbeat_timeout_s),
                )
            )
            if result is None:
                return
            for essay_id in result.published:
                entry = self._essays[essay_id]
                entry.requests = requests[essay_id]
                if entry.state == EssayState.STORED:  # a fast result may have come first
                    entry.state = EssayState.PUBLISHED
                events.pop(essay_id, None)

    async def _until_done_or_cancelled(
        self, handle: workflow.ActivityHandle[Result]
    ) -> Result | None:
        """The activity's result; on cancel, what it finished before stopping (None if unknown)."""
        await workflow.wait_condition(lambda: handle.done() or self._cancelled())
        if not handle.done():
            handle.cancel()
        try:
            return await handle
        except ActivityError:
            # Only a cancellation ends here (retries are unlimited); nothing more finished.
            return None

    def _cancelled(self) -> bool:
        return self._command == ChunkAction.CANCEL

    async def _report(self, done: bool = False) -> None:
        """Tell the parent our counts, and keep our essays' states in the memo (read by the API
        without waiting on a worker)."""
        status = self.status()
        workflow.upsert_memo({STATUS_MEMO: status})
        self._report_seq += 1
        parent = workflow.get_external_workflow_handle(batch_workflow_id(self._inp.batch_id))
        report = ChunkReport(
            chunk_key=self._inp.chunk_key,
            seq=self._report_seq,
            counts=status.counts(),
            done=done,
        )
        try:
            await parent.signal(CHUNK_REPORT_SIGNAL, report)
            self._reported = True
        except FailureError as exc:
            # No parent yet (the API starts the chunk before the batch's first update) or no
            # longer: the next look at the batch tells which, and reports again if it runs.
            workflow.logger.warning("could not report to the batch: %s", exc)
            self._reported = False
