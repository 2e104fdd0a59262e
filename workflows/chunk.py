"""ChunkWorkflow: up to 125 essays of one batch, stored, then announced on command.

The texts arrive once, in the input, which the workflow reads without them (ChunkHeader): it
holds ids and states only. It reports its counts to the parent `batch-{id}` by signal and takes
`publish` or `cancel` from it.
Both activities return partial progress instead of failing when some essays got through, so the
workflow always knows exactly which essays are stored and which events the broker acknowledged,
even when it is cancelled halfway.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from activities.events import EventActivities
    from workflows.batch_models import (
        CHUNK_REPORT_SIGNAL,
        STATUS_MEMO,
        ChunkCommand,
        ChunkHeader,
        ChunkReport,
        ChunkStatus,
        EssayCounts,
        PublishChunkInput,
        StoreChunkInput,
    )
    from workflows.events import SpellcheckRequestedEvent
    from workflows.ids import CHUNK_WORKFLOW, batch_workflow_id
    from workflows.models import EssayState
    from workflows.policies import DURABLE_RETRY

# A chunk's activities work for many seconds: they heartbeat, so a killed worker is noticed
# after the input's heartbeat timeout rather than at the start-to-close timeout. When the batch
# is cancelled the workflow waits for the running activity to hand back what it finished.
CHUNK_ACTIVITY_OPTS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(minutes=10),
    retry_policy=DURABLE_RETRY,
    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
)


@workflow.defn(name=CHUNK_WORKFLOW)
class ChunkWorkflow:
    """Query `status` for every essay's state; signal `command` to publish or cancel."""

    @workflow.init
    def __init__(self, inp: ChunkHeader) -> None:
        self._inp = inp
        start = ChunkStatus.all_received(
            inp.batch_id, inp.chunk_number, [e.essay_id for e in inp.essays]
        )
        self._essays = {e.essay_id: e for e in start.essays}
        self._command: str | None = None
        self._report_seq = 0

    @workflow.run
    async def run(self, inp: ChunkHeader) -> ChunkStatus:
        await self._report()
        await self._store()
        await self._report()
        await workflow.wait_condition(lambda: self._command is not None)
        if self._command == "publish":
            await self._publish()
        for entry in self._essays.values():
            if entry.state in (EssayState.RECEIVED, EssayState.STORED):
                entry.state = EssayState.CANCELLED
        await self._report(done=True)
        return self.status()

    @workflow.signal
    def command(self, command: ChunkCommand) -> None:
        if self._command != "cancel":  # a cancel is final
            self._command = command.action

    @workflow.query
    def status(self) -> ChunkStatus:
        return ChunkStatus(
            batch_id=self._inp.batch_id,
            chunk_number=self._inp.chunk_number,
            essays=list(self._essays.values()),
        )

    async def _store(self) -> None:
        while not self._cancelled():
            todo = [e for e, entry in self._essays.items() if entry.state == EssayState.RECEIVED]
            if not todo:
                return
            result = await self._until_done_or_cancelled(
                workflow.start_activity_method(
                    ContentActivities.store_chunk,
                    StoreChunkInput(
                        batch_id=self._inp.batch_id,
                        chunk_number=self._inp.chunk_number,
                        correlation_id=self._inp.correlation_id,
                        essay_ids=todo,
                        submission=workflow.info().first_execution_run_id,
                    ),
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
        # Built once, so every retry sends byte-identical events (same id, same timestamp).
        now = workflow.now()
        events = {
            e.essay_id: SpellcheckRequestedEvent.for_essay(
                essay_id=e.essay_id,
                text_storage_id=e.text_storage_id or "",
                correlation_id=self._inp.correlation_id,
                timestamp=now,
                submission=workflow.info().first_execution_run_id,
                batch_id=self._inp.batch_id,
            )
            for e in self._essays.values()
            if e.state == EssayState.STORED
        }
        for essay_id, event in events.items():
            self._essays[essay_id].event_id = str(event.event_id)
        while events and not self._cancelled():
            result = await self._until_done_or_cancelled(
                workflow.start_activity_method(
                    EventActivities.publish_chunk,
                    PublishChunkInput(events=list(events.values())),
                    **CHUNK_ACTIVITY_OPTS,
                    heartbeat_timeout=timedelta(seconds=self._inp.heartbeat_timeout_s),
                )
            )
            if result is None:
                return
            for essay_id in result.published:
                self._essays[essay_id].state = EssayState.PUBLISHED
                events.pop(essay_id, None)

    async def _until_done_or_cancelled(self, handle: workflow.ActivityHandle):
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
        return self._command == "cancel"

    def _counts(self) -> EssayCounts:
        counts = EssayCounts()
        for entry in self._essays.values():
            setattr(counts, entry.state.value, getattr(counts, entry.state.value) + 1)
        return counts

    async def _report(self, done: bool = False) -> None:
        """Tell the parent our counts, and keep our essays' states in the memo (read by the API
        without waiting on a worker)."""
        workflow.upsert_memo({STATUS_MEMO: self.status()})
        self._report_seq += 1
        parent = workflow.get_external_workflow_handle(batch_workflow_id(self._inp.batch_id))
        report = ChunkReport(
            chunk_number=self._inp.chunk_number,
            seq=self._report_seq,
            counts=self._counts(),
            done=done,
        )
        try:
            await parent.signal(CHUNK_REPORT_SIGNAL, report)
        except FailureError as exc:
            # The batch is closed (cancelled, or terminated by an operator) so nobody will
            # ever send a command: treat it as a cancel rather than wait forever.
            workflow.logger.warning("could not report to the batch, cancelling: %s", exc)
            self._command = "cancel"
