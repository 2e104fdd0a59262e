"""BatchWorkflow: the parent of a batch's chunks, holding counts and summaries only.

The API adds pages with the `add_page` update (which only assigns chunk numbers: the texts go
straight into the chunk workflows the API starts), triggers with `trigger` and cancels with
`cancel`. Chunks report their counts by signal; the parent tells each started chunk to publish
or cancel. The history stays bounded: the parent continues-as-new when the server suggests it,
carrying its small `BatchRecord`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.batch_models import (
        CHUNK_REPORT_SIGNAL,
        FIRST_CHUNK_NUMBER,
        STATUS_MEMO,
        AddPageInput,
        BatchInput,
        BatchRecord,
        BatchState,
        BatchStatus,
        ChunkCommand,
        ChunkRef,
        ChunkReport,
        ChunkSummary,
        EssayCounts,
        PageAssignment,
        TriggerResult,
    )
    from workflows.chunk import ChunkWorkflow
    from workflows.ids import BATCH_WORKFLOW, chunk_workflow_id

# Error types the API maps to HTTP statuses.
BATCH_CLOSED = "BatchClosed"  # 409: triggered or cancelled already
DUPLICATE_ESSAY = "DuplicateEssay"  # 409: an essay id the batch already has
EMPTY_BATCH = "EmptyBatch"  # 409: nothing to trigger
BATCH_CONFLICT = "BatchConflict"  # 409: a create that reuses a batch id for other essays
CONFLICT_ERRORS = frozenset({BATCH_CLOSED, DUPLICATE_ESSAY, EMPTY_BATCH, BATCH_CONFLICT})
# How long a closing batch waits for a chunk that was assigned but never started.
UNSTARTED_CHUNK_GRACE = timedelta(minutes=2)
# Commands sent to chunks in one go: far below the 2,000 pending-signal limit.
MAX_SIGNALS_AT_ONCE = 50


@workflow.defn(name=BATCH_WORKFLOW)
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
        self._chunks = {c.number: c for c in self._record.chunks}
        self._changed = True  # the memo below must be written

    @workflow.run
    async def run(self, inp: BatchInput) -> BatchStatus:
        while not self._finished():
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._changed
                        or self._finished()
                        or bool(self._commands_due())
                        or workflow.info().is_continue_as_new_suggested()
                    ),
                    timeout=self._until_unstarted_abandoned(),
                )
            except TimeoutError:
                self._abandon_unstarted()
            self._write_memo()
            await self._send_commands()
            if workflow.info().is_continue_as_new_suggested() and not self._finished():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._record.chunks = list(self._chunks.values())
                self._record.runs += 1
                workflow.continue_as_new(
                    BatchInput(
                        batch_id=inp.batch_id,
                        correlation_id=inp.correlation_id,
                        create_digest=inp.create_digest,
                        carried=self._record,
                    )
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._record.finished_at = workflow.now()
        return self.status()

    def _write_memo(self) -> None:
        """The status, as of this workflow task, in the memo: the API reads it from the server
        without waiting on a worker, which under load answers queries only after seconds."""
        if self._changed:
            workflow.upsert_memo({STATUS_MEMO: self.status()})
            self._changed = False

    # -- the API's updates --------------------------------------------------------------------

    @workflow.update
    def add_page(self, page: AddPageInput) -> PageAssignment:
        known = self._record.pages.get(page.page_digest)
        if known is not None:  # a retried request: same answer, nothing new
            return PageAssignment(chunk_numbers=known, duplicate=True)
        now = workflow.now()
        numbers = []
        for plan in page.chunks:
            number = len(self._chunks) + FIRST_CHUNK_NUMBER
            self._chunks[number] = ChunkSummary(
                number=number,
                essay_count=len(plan.essay_ids),
                accepted_at=now,
                counts=EssayCounts(received=len(plan.essay_ids)),
            )
            numbers.append(number)
        self._record.pages[page.page_digest] = numbers
        self._changed = True
        self._record.client_essay_ids.extend(page.client_essay_ids)
        created = page.create_digest is not None
        return PageAssignment(chunk_numbers=numbers, status=self.status() if created else None)

    @add_page.validator
    def _check_page(self, page: AddPageInput) -> None:
        if page.create_digest not in (None, self._record.create_digest):
            raise ApplicationError(
                f"batch {self._record.batch_id} exists with different essays or metadata",
                type=BATCH_CONFLICT,
            )
        if page.page_digest in self._record.pages:
            return
        self._check_open()
        clashes = set(page.client_essay_ids) & set(self._record.client_essay_ids)
        if clashes:
            raise ApplicationError(
                f"the batch already has essays with these ids: {sorted(clashes)[:10]}",
                type=DUPLICATE_ESSAY,
            )

    @workflow.update
    def trigger(self) -> TriggerResult:
        self._record.triggered_at = workflow.now()
        self._changed = True
        return TriggerResult(essay_count=self._counts().total, status=self.status())

    @trigger.validator
    def _check_trigger(self) -> None:
        self._check_open()
        if not self._chunks:
            raise ApplicationError("the batch has no essays", type=EMPTY_BATCH)

    @workflow.update
    def cancel(self) -> BatchStatus:
        self._record.cancelled_at = workflow.now()
        self._changed = True
        return self.status()

    @cancel.validator
    def _check_cancel(self) -> None:
        if self._record.cancelled_at is not None:
            raise ApplicationError("the batch is cancelled already", type=BATCH_CLOSED)

    def _check_open(self) -> None:
        if self._record.cancelled_at is not None:
            raise ApplicationError("the batch is cancelled", type=BATCH_CLOSED)
        if self._record.triggered_at is not None:
            raise ApplicationError(
                "the batch's spellcheck was requested already", type=BATCH_CLOSED
            )

    # -- the chunks ---------------------------------------------------------------------------

    @workflow.signal(name=CHUNK_REPORT_SIGNAL)
    def chunk_report(self, report: ChunkReport) -> None:
        chunk = self._chunks.get(report.chunk_number)
        if chunk is None or report.seq <= chunk.report_seq:
            return  # unknown, or older than what we have (signals may overtake each other)
        chunk.started = True
        chunk.report_seq = report.seq
        chunk.counts = report.counts
        chunk.done = report.done
        self._changed = True

    def _command(self) -> str | None:
        """What every started chunk must be told now, if anything."""
        if self._record.cancelled_at is not None:
            return "cancel"
        if self._record.triggered_at is not None:
            return "publish"
        return None

    def _commands_due(self) -> list[ChunkSummary]:
        command = self._command()
        if command is None:
            return []
        return [
            c
            for c in self._chunks.values()
            if c.started and not c.done and c.command_sent != command
        ]

    async def _send_commands(self) -> None:
        due = self._commands_due()[:MAX_SIGNALS_AT_ONCE]
        await asyncio.gather(*(self._send(chunk) for chunk in due))

    async def _send(self, chunk: ChunkSummary) -> None:
        command = self._command()
        assert command is not None
        chunk.command_sent = command  # before the await: never sent twice concurrently
        handle = workflow.get_external_workflow_handle_for(
            ChunkWorkflow.run, chunk_workflow_id(self._record.batch_id, chunk.number)
        )
        try:
            await handle.signal(ChunkWorkflow.command, ChunkCommand(action=command))
        except FailureError as exc:
            # The chunk closed meanwhile (its final report is on the way): nothing to tell.
            workflow.logger.warning("could not signal chunk %s: %s", chunk.number, exc)

    # -- state --------------------------------------------------------------------------------

    def _counts(self) -> EssayCounts:
        total = EssayCounts()
        for chunk in self._chunks.values():
            total = total.plus(chunk.counts)
        return total

    def _finished(self) -> bool:
        """Triggered or cancelled, and every chunk has reported its final counts."""
        closing = self._record.triggered_at or self._record.cancelled_at
        return closing is not None and all(c.done for c in self._chunks.values())

    def _until_unstarted_abandoned(self) -> timedelta | None:
        """How long to keep waiting for chunks that were assigned but have not reported yet.

        The API starts a page's chunks right after the update that assigns them; only a request
        that died in between leaves a chunk that never starts, and its client never got a 202.
        Once the batch is closing, such a chunk is waited for UNSTARTED_CHUNK_GRACE at most.
        """
        closing = self._record.cancelled_at or self._record.triggered_at
        if closing is None or all(c.started for c in self._chunks.values()):
            return None
        return max(closing + UNSTARTED_CHUNK_GRACE - workflow.now(), timedelta(seconds=1))

    def _abandon_unstarted(self) -> None:
        closing = self._record.cancelled_at or self._record.triggered_at
        if closing is None or workflow.now() < closing + UNSTARTED_CHUNK_GRACE:
            return
        for chunk in self._chunks.values():
            if not chunk.started:
                # If it starts after all, it finds the batch closed and cancels itself.
                chunk.done = True
                chunk.counts = EssayCounts(cancelled=chunk.essay_count)
                workflow.logger.warning(
                    "chunk %s never started; counted as cancelled", chunk.number
                )

    def _state(self) -> BatchState:
        counts = self._counts()
        if self._record.cancelled_at is not None:
            return BatchState.CANCELLED
        if self._record.triggered_at is not None:
            return BatchState.COMPLETED if self._finished() else BatchState.SPELLCHECK_REQUESTED
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
                ChunkRef(number=c.number, essay_count=c.essay_count) for c in self._chunks.values()
            ],
            runs=self._record.runs,
        )
