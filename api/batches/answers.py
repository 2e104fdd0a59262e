"""The batch routes' answers, each built from what the workflows report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from api.batches.pages import Page
from api.http.answers import Answer, Timestamp
from contracts.batch import BatchState, BatchStatus, EssayCounts, EssayEntry
from contracts.essay import EssayState


def status_url(batch_id: str) -> str:
    return f"/v1/batch/{batch_id}/status"


class BatchAccepted(Answer):
    """A created batch, or a page added to one."""

    batch_id: str
    essay_ids: list[str] = Field(description="the page's essays, in the order sent")
    essay_count: int
    correlation_id: str
    status_url: str

    @classmethod
    def of(cls, batch_id: str, page: Page, correlation_id: str) -> BatchAccepted:
        return cls(
            batch_id=batch_id,
            essay_ids=page.essay_ids,
            essay_count=len(page.essays),
            correlation_id=correlation_id,
            status_url=status_url(batch_id),
        )


class BatchTriggered(Answer):
    batch_id: str
    message: Literal["Spellcheck triggered"] = "Spellcheck triggered"
    essay_count: int
    status_url: str


class BatchRetried(Answer):
    batch_id: str
    message: Literal["Spellcheck requested again"] = "Spellcheck requested again"
    essay_count: int = Field(description="essays sent a new request")
    round: int = Field(description="the batch's round: 1, then one more per retry")
    status_url: str


class BatchCancelled(Answer):
    batch_id: str
    message: str = "Batch cancelled: outstanding essays will not be published"
    status_url: str


class BatchCounts(Answer):
    received: int
    stored: int
    published: int = Field(description="published, waiting for a spellcheck result")
    failed: int
    cancelled: int
    spellchecked: int = 0
    spellcheck_failed: int = 0
    spellcheck_timed_out: int = 0
    total: int

    @classmethod
    def of(cls, counts: EssayCounts) -> BatchCounts:
        return cls(**counts.model_dump(), total=counts.total)


class Backlog(Answer):
    essays: int = Field(description="accepted but not yet published")
    oldest_accepted_at: Timestamp | None
    oldest_age_s: float | None

    @classmethod
    def of(cls, status: BatchStatus) -> Backlog:
        oldest = status.oldest_unpublished_at
        age = round((datetime.now(UTC) - oldest).total_seconds(), 3) if oldest else None
        return cls(essays=status.counts.unpublished, oldest_accepted_at=oldest, oldest_age_s=age)


class BatchEssay(Answer):
    essay_id: str
    state: EssayState
    text_storage_id: str | None
    event_id: str | None = Field(description="its event's id, once the event is built")
    error: str | None
    retrying_step: str | None = Field(None, description="the step being retried, if one is")
    attempts: int | None = None
    last_error: str | None = None
    requests: int = Field(0, description="spellcheck requests sent (a timeout sends another)")
    corrected_text_storage_id: str | None = Field(
        None, description="once spellchecked: the corrected text in the Content Service"
    )
    corrected_text_path: str | None = None
    corrections_made: int | None = None

    @classmethod
    def of(cls, essay: EssayEntry) -> BatchEssay:
        return cls(**essay.model_dump(include=set(cls.model_fields)))


class EssayPage(Answer):
    offset: int
    limit: int
    total: int
    next_offset: int | None = Field(description="the next page's offset; null on the last page")
    items: list[BatchEssay]

    @classmethod
    def of(cls, offset: int, limit: int, total: int, items: list[BatchEssay]) -> EssayPage:
        following = offset + limit if offset + limit < total else None
        return cls(offset=offset, limit=limit, total=total, next_offset=following, items=items)


class BatchStatusAnswer(Answer):
    batch_id: str
    state: BatchState
    correlation_id: str
    metadata: dict[str, Any]
    counts: BatchCounts
    backlog: Backlog
    created_at: Timestamp
    triggered_at: Timestamp | None
    cancelled_at: Timestamp | None
    finished_at: Timestamp | None
    essays: EssayPage
    workflow_runs: int = Field(description="runs of the batch's workflow (continue-as-new)")
    round: int = Field(1, description="1, then one more for each retry")
    spellchecked_at: Timestamp | None = None
    retry_until: Timestamp | None = Field(
        None, description="while spellchecked with essays to retry: until when a retry is taken"
    )
    version: int = Field(0, description="which change of the batch this is (the stream's ids)")

    @classmethod
    def of(cls, status: BatchStatus, essays: EssayPage) -> BatchStatusAnswer:
        """What the parent's `status` says (state, counts, times), with a page of essays."""
        return cls(
            batch_id=status.batch_id,
            state=status.state,
            correlation_id=status.correlation_id,
            metadata=status.metadata,
            counts=BatchCounts.of(status.counts),
            backlog=Backlog.of(status),
            created_at=status.created_at,
            triggered_at=status.triggered_at,
            cancelled_at=status.cancelled_at,
            finished_at=status.finished_at,
            essays=essays,
            workflow_runs=status.runs,
            round=status.round,
            spellchecked_at=status.spellchecked_at,
            retry_until=status.retry_until,
            version=status.version,
        )
