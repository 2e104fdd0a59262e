"""BatchWorkflow: the parent of a batch's chunks, holding counts and summaries only.

The API starts a page's chunk workflows with the texts first, then adds the page with the
`add_page` update, which assigns the chunks their numbers (a page after the trigger is refused
at once), and answers 202 only after both. It triggers with `trigger` and cancels with
`cancel`. Chunks report their counts by signal; the parent tells every assigned chunk to
publish or cancel, and while it waits for their final reports it looks at the silent ones every
`batch_check_s`, so a chunk an operator terminated is settled (its unpublished essays failed)
rather than waited for forever. No timer ever gives up on an assigned chunk: each one exists.
The history stays bounded: the parent continues-as-new when the server suggests it, carrying
its small `BatchRecord`.

With results followed (`following.on`), the batch is `completed` once every event is out and
`spellchecked` once every essay is final; it then publishes its round's batch event and, while
some essays failed or timed out, takes a `retry` (a new round) until its window is over.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.batch import (
        CHUNK_REPORT_SIGNAL,
        FIRST_CHUNK_NUMBER,
        LOOK_AT_CHUNKS,
        PUBLISH_BATCH_EVENT,
        READ_ESSAY_ID_HASHES,
        STATUS_MEMO,
        AddPageInput,
        BatchInput,
        BatchRecord,
        BatchState,
        BatchStatus,
        ChunkAction,
        ChunkCommand,
        ChunkRef,
        ChunkReport,
        ChunksLook,
        ChunkSummary,
        CloseInput,
        EssayCounts,
        IdHashes,
        LookAtChunksInput,
        PageAssignment,
        RetryResult,
        TriggerResult,
        closed_because,
        decode_hashes,
        essay_id_hash,
    )
    from contracts.events import (
        BatchEntityRef,
        BatchSpellcheckCompletedEvent,
        SystemMetadata,
        batch_event_id_for,
    )
    from contracts.ids import BATCH_WORKFLOW, chunk_workflow_id, page_key_of
    from workflows.chunk import ChunkWorkflow
    from workflows.policies import DURABLE_RETRY

# Error types the API maps to HTTP statuses.
BATCH_CLOSED = "BatchClosed"  # 409: triggered or cancelled already
DUPLICATE_ESSAY = "DuplicateEssay"  # 409: an essay id the batch already has
EMPTY_BATCH = "EmptyBatch"  # 409: nothing to trigger
BATCH_CONFLICT = "BatchConflict"  # 409: a create that reuses a batch id for other essays
BATCH_FULL = "BatchFull"  # 409: the page would take the batch past its essays or pages
NOT_RETRIABLE = "NotRetriable"  # 409: not spellchecked yet, nothing to retry, or too late
CONFLICT_ERRORS = frozenset(
    {BATCH_CLOSED, DUPLICATE_ESSAY, EMPTY_BATCH, BATCH_CONFLICT, BATCH_FULL, NOT_RETRIABLE}
)
# Pages that were refused for what the batch holds: never taken, so their chunks can go.
NEVER_TAKEN = frozenset({BATCH_CLOSED, DUPLICATE_ESSAY, BATCH_FULL})
# Chunks whose essay ids one look reads back: its answer stays far below the payload warning.
ID_READ_CHUNKS = 200
# Commands sent to chunks in one go: far below the 2,000 pending-signal limit.
MAX_SIGNALS_AT_ONCE = 50
# Reports from chunks not (yet) assigned, kept to be taken on at their page's update: the API
# starts a page's chunks just before it, so their first report may arrive first. Bounded, as
# anyone's page start could send one; a report not kept only shows later.
MAX_EARLY_REPORTS = 256
# One look at a few hundred chunks; retried without end, as a Temporal outage may last. Local
# activities: on the batch queue an ordinary one waits behind every chunk's store activity,
# and page updates wait for the ids' look.
LOOK_OPTS = workflow.LocalActivityConfig(
    start_to_close_timeout=timedelta(minutes=2), retry_policy=DURABLE_RETRY
)
# One acknowledged send, retried without end: a broker outage delays the batch event only.
ANNOUNCE_OPTS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30), retry_policy=DURABLE_RETRY
)


@workflow.defn(name=BATCH_WORKFLOW, sandboxed=False)
class BatchWorkflow:
    """Updates `add_page`, `trigger`, `cancel`; query `status`; signal `chunk_report`."""

    @workflow.init
    def __init__(self, inp: BatchInput) -> None:
        self._record = inp.carried or BatchRecord(
            batch_id=inp.batch_id,
            correlation_id=inp.correlation_id,
            metadata=inp.metadata,
            create_digest=inp.create_digest,
            created_at=workflow.now(),
        )
        rows = [ChunkSummary.from_row(row) for row in self._record.chunk_rows]
        self._chunks = {c.number: c for c in [*self._record.chunks, *rows]}
        self._by_key = {c.key: c for c in self._chunks.values() if c.key}
        self._page_chunks: dict[str, list[int]] = {}  # page key -> its chunks' numbers
        for chunk in self._chunks.values():
            if chunk.key:
                self._page_chunks.setdefault(page_key_of(chunk.key), []).append(chunk.number)
        # The essay ids' hashes are not carried (they grow with the batch): a continued run
        # reads them back from its chunks before it takes another page.
        legacy = self._record.client_essay_ids
        self._id_hashes = {essay_id_hash(e) for e in legacy}
        self._ids_known = inp.carried is None or bool(legacy) or not self._chunks
        self._early: dict[str, ChunkReport] = {}
        self._inp = inp
        self._check = timedelta(seconds=inp.batch_check_s)
        self._changed = True  # the memo below must be written

    @workflow.run
    async def run(self, inp: BatchInput) -> BatchStatus:
        if not self._ids_known:
            await self._read_id_hashes()
        while True:
            await self._until_finished()
            if not self._follows() or self._record.cancelled_at is not None:
                break
            if self._record.announced_round < self._record.round:
                await self._announce()
            if not self._wait_for_retry():
                break
            with contextlib.suppress(TimeoutError):  # the window is over
                await workflow.wait_condition(
                    lambda: not self._finished() or self._window_over() or self._should_continue(),
                    timeout=self._record_window_left(),
                )
            if self._finished():
                if self._window_over():
                    await self._close_waiting_chunks()
                    break
                await self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._record.finished_at = workflow.now()
        return self.status()

    async def _until_finished(self) -> None:
        while not self._finished():
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._changed
                        or self._finished()
                        or bool(self._commands_due())
                        or self._should_continue()
                    ),
                    timeout=self._check if self._closing() else None,
                )
            except TimeoutError:
                await self._look_at_silent_chunks()
            self._write_memo()
            await self._send_commands()
            if self._should_continue() and not self._finished():
                await self._continue_as_new()
        record = self._record
        if self._follows() and record.cancelled_at is None and record.spellchecked_at is None:
            self._record.spellchecked_at = workflow.now()
            self._changed = True
            self._write_memo()

    @staticmethod
    def _should_continue() -> bool:
        return workflow.info().is_continue_as_new_suggested()

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._record.chunk_rows = [c.to_row() for c in self._chunks.values()]
        self._record.chunks = []
        self._record.client_essay_ids = []
        self._record.runs += 1
        workflow.continue_as_new(self._inp.model_copy(update={"carried": self._record}))

    # -- following results: the batch event and retries -----------------------------------------

    def _follows(self) -> bool:
        return self._inp.following.on

    async def _announce(self) -> None:
        """Publish this round's batch event (once the broker has it, never again)."""
        record = self._record
        event = BatchSpellcheckCompletedEvent(
            event_id=batch_event_id_for(
                record.batch_id, workflow.info().first_execution_run_id, record.round
            ),
            entity_ref=BatchEntityRef(entity_id=record.batch_id),
            round=record.round,
            counts=self._counts().final(),
            system_metadata=SystemMetadata(
                timestamp=record.spellchecked_at or workflow.now(),
                correlation_id=record.correlation_id,
            ),
        )
        await workflow.execute_activity(PUBLISH_BATCH_EVENT, event, **ANNOUNCE_OPTS)
        record.announced_round = record.round
        self._changed = True
        self._write_memo()

    def _wait_for_retry(self) -> bool:
        """Does the batch now wait for a retry (some essays to retry, and a window)?"""
        return self._retry_until() is not None and not self._window_over()

    def _retry_until(self) -> datetime | None:
        if self._record.spellchecked_at is None or not self._counts().retriable:
            return None
        window = self._inp.following.retry_window_s
        if window <= 0:
            return None
        return self._record.spellchecked_at + timedelta(seconds=window)

    def _window_over(self) -> bool:
        until = self._retry_until()
        return until is None or workflow.now() >= until

    def _record_window_left(self) -> timedelta | None:
        until = self._retry_until()
        return None if until is None else max(until - workflow.now(), timedelta(seconds=0))

    async def _close_waiting_chunks(self) -> None:
        """The window is over: the chunks still holding essays to retry can end."""
        waiting = [c for c in self._chunks.values() if c.counts.retriable]
        for start in range(0, len(waiting), MAX_SIGNALS_AT_ONCE):
            await asyncio.gather(
                *(
                    self._send(chunk, ChunkAction.CLOSE)
                    for chunk in waiting[start : start + MAX_SIGNALS_AT_ONCE]
                )
            )

    @workflow.update
    def retry(self, inp: CloseInput | None = None) -> RetryResult:
        if not self._repeats(inp, self._record.retry_key):
            chosen = [c for c in self._chunks.values() if c.counts.retriable]
            essays = sum(c.counts.retriable for c in chosen)
            self._record.round += 1
            self._record.retry_key = inp.idempotency_key if inp else None
            self._record.spellchecked_at = None
            self._record.retried_essays = essays
            for chunk in chosen:
                chunk.done = False
                chunk.command_sent = None
            self._changed = True
        return RetryResult(
            essay_count=self._record.retried_essays, round=self._record.round, status=self.status()
        )

    @retry.validator
    def _check_retry(self, inp: CloseInput | None = None) -> None:
        if self._repeats(inp, self._record.retry_key):
            return
        status = self.status()
        if status.state != BatchState.SPELLCHECKED:
            raise ApplicationError(
                f"the batch is {status.state.value}: only a spellchecked batch is retried",
                type=NOT_RETRIABLE,
            )
        if not status.counts.retriable:
            raise ApplicationError(
                "no essay of the batch failed its spellcheck or timed out", type=NOT_RETRIABLE
            )
        if self._window_over():
            raise ApplicationError("the batch's retry window is over", type=NOT_RETRIABLE)

    def _write_memo(self) -> None:
        """The status, as of this workflow task, in the memo: the API reads it from the server
        without waiting on a worker, which under load answers queries only after seconds."""
        if self._changed:
            self._record.version += 1
            workflow.upsert_memo({STATUS_MEMO: self.status()})
            self._changed = False

    # -- the API's updates --------------------------------------------------------------------

    @workflow.update
    async def add_page(self, page: AddPageInput) -> PageAssignment:
        known = self._known_page(page)
        if known is not None:  # a retried request: same answer, nothing new
            return PageAssignment(chunk_numbers=known, duplicate=True)
        await workflow.wait_condition(lambda: self._ids_known)
        known = self._known_page(page)  # a retry may have been taken meanwhile
        if known is not None:
            return PageAssignment(chunk_numbers=known, duplicate=True)
        self._check_open()  # it may have closed meanwhile
        hashes = decode_hashes(page.id_hashes) or {essay_id_hash(e) for e in page.client_essay_ids}
        clashes = hashes & self._id_hashes
        if clashes:
            named = [e for e in page.client_essay_ids if essay_id_hash(e) in clashes]
            raise ApplicationError(
                f"the batch already has essays with these ids: {sorted(named)[:10]}",
                type=DUPLICATE_ESSAY,
            )
        self._id_hashes |= hashes
        now = workflow.now()
        numbers = []
        for plan in page.chunks:
            number = len(self._chunks) + FIRST_CHUNK_NUMBER
            count = plan.essay_count or len(plan.essay_ids)
            chunk = ChunkSummary(
                number=number,
                essay_count=count,
                accepted_at=now,
                counts=EssayCounts(received=count),
                key=plan.key,
            )
            self._chunks[number] = chunk
            self._by_key[plan.key] = chunk
            self._page_chunks.setdefault(page_key_of(plan.key), []).append(number)
            early = self._early.pop(plan.key, None)
            if early is not None:
                self._take_report(chunk, early)
            numbers.append(number)
        self._changed = True
        created = page.create_digest is not None
        return PageAssignment(chunk_numbers=numbers, status=self.status() if created else None)

    @add_page.validator
    def _check_page(self, page: AddPageInput) -> None:
        if page.create_digest not in (None, self._record.create_digest):
            raise ApplicationError(
                f"batch {self._record.batch_id} exists with different essays or metadata",
                type=BATCH_CONFLICT,
            )
        if self._known_page(page) is not None:
            return
        self._check_open()
        pages = len(self._page_chunks) + len(self._record.pages)
        essays = sum(c.essay_count for c in self._chunks.values())
        adding = sum(plan.essay_count or len(plan.essay_ids) for plan in page.chunks)
        if pages >= self._inp.max_pages or essays + adding > self._inp.max_essays:
            raise ApplicationError(
                f"a batch takes at most {self._inp.max_essays} essays in at most "
                f"{self._inp.max_pages} pages; this one has {essays} in {pages}",
                type=BATCH_FULL,
            )

    def _known_page(self, page: AddPageInput) -> list[int] | None:
        """The chunk numbers the page got, if the batch took it before (a retried request)."""
        known = self._record.pages.get(page.page_digest)  # taken by an older run's code
        if known is None and page.chunks:
            known = self._page_chunks.get(page_key_of(page.chunks[0].key))
        return known

    async def _read_id_hashes(self) -> None:
        keys = [c.key for c in self._chunks.values() if c.key]
        for start in range(0, len(keys), ID_READ_CHUNKS):
            found: IdHashes = await workflow.execute_local_activity(
                READ_ESSAY_ID_HASHES,
                LookAtChunksInput(
                    batch_id=self._record.batch_id, keys=keys[start : start + ID_READ_CHUNKS]
                ),
                result_type=IdHashes,
                **LOOK_OPTS,
            )
            self._id_hashes |= decode_hashes(found.hashes)
        self._ids_known = True

    @workflow.update
    def trigger(self, inp: CloseInput | None = None) -> TriggerResult:
        if not self._repeats(inp, self._record.trigger_key):
            self._record.triggered_at = workflow.now()
            self._record.trigger_key = inp.idempotency_key if inp else None
            self._changed = True
        return TriggerResult(essay_count=self._counts().total, status=self.status())

    @trigger.validator
    def _check_trigger(self, inp: CloseInput | None = None) -> None:
        if self._repeats(inp, self._record.trigger_key):
            return  # the same request again (its first answer may have been lost): its answer
        self._check_open()
        if not self._chunks:
            raise ApplicationError("the batch has no essays", type=EMPTY_BATCH)

    @workflow.update
    def cancel(self, inp: CloseInput | None = None) -> BatchStatus:
        if not self._repeats(inp, self._record.cancel_key):
            self._record.cancelled_at = workflow.now()
            self._record.cancel_key = inp.idempotency_key if inp else None
            self._changed = True
        return self.status()

    @cancel.validator
    def _check_cancel(self, inp: CloseInput | None = None) -> None:
        if self._repeats(inp, self._record.cancel_key):
            return
        if self._record.cancelled_at is not None or self._finished():
            # Finished: every essay is final (a spellchecked batch waiting for a retry).
            raise ApplicationError(self._closed_because(), type=BATCH_CLOSED)

    @staticmethod
    def _repeats(inp: CloseInput | None, first_key: str | None) -> bool:
        """Is this the trigger (or cancel) that already took effect, sent again with its key?"""
        return (
            inp is not None and inp.idempotency_key is not None and inp.idempotency_key == first_key
        )

    def _check_open(self) -> None:
        if self._closing():
            raise ApplicationError(self._closed_because(), type=BATCH_CLOSED)

    def _closed_because(self) -> str:
        return closed_because(self.status())

    # -- the chunks ---------------------------------------------------------------------------

    @workflow.signal(name=CHUNK_REPORT_SIGNAL)
    def chunk_report(self, report: ChunkReport) -> None:
        chunk = self._by_key.get(report.chunk_key)
        if chunk is not None:
            self._take_report(chunk, report)
        elif len(self._early) < MAX_EARLY_REPORTS and not self._closing():
            # Not assigned yet: its page's update may still come. Once the batch is closing
            # none can, and the chunk finds that out by looking at the batch itself.
            known = self._early.get(report.chunk_key)
            if known is None or report.seq > known.seq:
                self._early[report.chunk_key] = report

    def _take_report(self, chunk: ChunkSummary, report: ChunkReport) -> None:
        if chunk.done or report.seq <= chunk.report_seq:
            return  # older than what we have (signals may overtake each other)
        chunk.report_seq = report.seq
        chunk.counts = report.counts
        chunk.done = report.done
        self._changed = True

    def _command(self) -> ChunkAction | None:
        """What every assigned chunk must be told now, if anything."""
        if self._record.cancelled_at is not None:
            return ChunkAction.CANCEL
        if self._record.round > 1:
            return ChunkAction.RETRY  # only the chunks a retry chose are not done
        if self._record.triggered_at is not None:
            return ChunkAction.PUBLISH
        return None

    def _commands_due(self) -> list[ChunkSummary]:
        command = self._command()
        if command is None:
            return []
        return [c for c in self._chunks.values() if not c.done and c.command_sent != command]

    async def _send_commands(self) -> None:
        command = self._command()
        if command is None:
            return
        due = self._commands_due()[:MAX_SIGNALS_AT_ONCE]
        failed = await asyncio.gather(*(self._send(chunk, command) for chunk in due))
        if any(failed):
            await self._look_at_silent_chunks()

    async def _send(self, chunk: ChunkSummary, command: ChunkAction) -> bool:
        """Tell the chunk the command; True when it could not be told (it has closed)."""
        chunk.command_sent = command  # before the await: never sent twice concurrently
        handle = workflow.get_external_workflow_handle_for(
            ChunkWorkflow.run, chunk_workflow_id(self._record.batch_id, chunk.key)
        )
        try:
            await handle.signal(
                ChunkWorkflow.command, ChunkCommand(action=command, round=self._record.round)
            )
        except FailureError as exc:
            # Closed: its final report is on the way, or it was closed by an operator.
            workflow.logger.warning("could not signal chunk %s: %s", chunk.number, exc)
            return True
        return False

    async def _look_at_silent_chunks(self) -> None:
        """Settle the assigned chunks that closed without a final report (terminated or
        cancelled by an operator, or gone): their counts as they closed, their essays still
        owed an event failed. Those still running are left to report."""
        waiting = [c for c in self._chunks.values() if not c.done]
        if not waiting:
            return
        look: ChunksLook = await workflow.execute_local_activity(
            LOOK_AT_CHUNKS,
            LookAtChunksInput(batch_id=self._record.batch_id, keys=[c.key for c in waiting]),
            result_type=ChunksLook,
            **LOOK_OPTS,
        )
        for found in look.chunks:
            chunk = self._by_key.get(found.key)
            if found.running or chunk is None or chunk.done:
                continue
            workflow.logger.warning("chunk %s settled: %s", chunk.number, found.reason)
            chunk.counts = found.counts or EssayCounts(failed=chunk.essay_count)
            chunk.done = True
            self._changed = True

    # -- state --------------------------------------------------------------------------------

    def _counts(self) -> EssayCounts:
        total = EssayCounts()
        for chunk in self._chunks.values():
            total = total.plus(chunk.counts)
        return total

    def _closing(self) -> bool:
        return self._record.triggered_at is not None or self._record.cancelled_at is not None

    def _finished(self) -> bool:
        """Triggered or cancelled, and every chunk has reported its final counts."""
        return self._closing() and all(c.done for c in self._chunks.values())

    def _state(self) -> BatchState:
        counts = self._counts()
        if self._record.cancelled_at is not None:
            return BatchState.CANCELLED
        if self._record.triggered_at is not None:
            if self._finished():
                return BatchState.SPELLCHECKED if self._follows() else BatchState.COMPLETED
            if self._follows() and not counts.unpublished:
                return BatchState.COMPLETED
            return BatchState.SPELLCHECK_REQUESTED
        if not self._chunks:
            return BatchState.CREATED
        return BatchState.STORING if counts.received else BatchState.READY

    @workflow.query
    def status(self) -> BatchStatus:
        pending = [
            c.accepted_at for c in self._chunks.values() if c.counts.unpublished and not c.done
        ]
        return BatchStatus(
            batch_id=self._record.batch_id,
            state=self._state(),
            correlation_id=self._record.correlation_id,
            metadata=self._record.metadata,
            counts=self._counts(),
            oldest_unpublished_at=min(pending, default=None),
            created_at=self._record.created_at,
            triggered_at=self._record.triggered_at,
            cancelled_at=self._record.cancelled_at,
            finished_at=self._record.finished_at,
            chunks=[
                ChunkRef(number=c.number, essay_count=c.essay_count, key=c.key)
                for c in self._chunks.values()
            ],
            runs=self._record.runs,
            trigger_key=self._record.trigger_key,
            cancel_key=self._record.cancel_key,
            retry_key=self._record.retry_key,
            round=self._record.round,
            spellchecked_at=self._record.spellchecked_at,
            retry_until=self._retry_until() if self._state() == BatchState.SPELLCHECKED else None,
            # A change not yet in the memo is the next version (the memo will carry this
            # number); closing is one more, seen in the result only.
            version=self._record.version
            + int(self._changed)
            + int(self._record.finished_at is not None),
        )


def page_assigned(status: BatchStatus, page_key: str) -> bool:
    """Did the batch, as `status` shows it, take the page whose chunks' keys start so?"""
    return any(page_key_of(c.key) == page_key for c in status.chunks)
