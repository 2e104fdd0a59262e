"""Inputs, messages, states and answers of the batch workflows. No I/O imports.

A batch is one parent workflow (`batch-{id}`) that holds counts and per-chunk summaries, and
chunk workflows (`batch-{id}/c{n}`) of at most CHUNK_MAX_ESSAYS essays that hold the texts
(in their input only) and each essay's state. Every field added later must have a default.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from workflows.events import SpellcheckRequestedEvent
from workflows.models import EssayState

# Every chunk costs the Temporal server the same handful of workflow tasks, signals and memo
# writes whatever its size, and those fixed costs were most of the server's CPU in bench B3.
# 125 rather than 100: an upload page of 250 essays is two chunks, not three (100+100+50),
# and 125 essays of 3 KB still fit CHUNK_MAX_TEXT_BYTES.
CHUNK_MAX_ESSAYS = 125
# Keep one chunk's input well below Temporal's 512 KiB payload warning (2 MiB is an error).
CHUNK_MAX_TEXT_BYTES = 384 * 1024

# The parent's signal for chunk reports, named here because the chunk cannot import the parent.
CHUNK_REPORT_SIGNAL = "chunk_report"

# Memo key under which the parent and the chunks keep their latest status while they run.
STATUS_MEMO = "status"

STORE_CHUNK = "store_chunk"
PUBLISH_CHUNK = "publish_chunk"


class BatchState(StrEnum):
    CREATED = "created"  # exists; no essay accepted yet (transient)
    STORING = "storing"  # some texts are not yet stored
    READY = "ready"  # every text stored (or failed); waiting for the trigger
    SPELLCHECK_REQUESTED = "spellcheck_requested"  # triggered; events going out
    COMPLETED = "completed"  # every essay's event published (or the essay failed)
    CANCELLED = "cancelled"
    FAILED = "failed"  # the batch's workflow itself failed or was terminated


class EssayCounts(BaseModel):
    received: int = 0
    stored: int = 0
    published: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.received + self.stored + self.published + self.failed + self.cancelled

    @property
    def unpublished(self) -> int:
        """Accepted and still owed an event."""
        return self.received + self.stored

    def plus(self, other: EssayCounts) -> EssayCounts:
        return EssayCounts(
            **{
                name: getattr(self, name) + getattr(other, name)
                for name in EssayCounts.model_fields
            }
        )


# -- the parent ------------------------------------------------------------------------------


class ChunkPlan(BaseModel):
    """One chunk of a page, as the API split it."""

    essay_ids: list[str]


class AddPageInput(BaseModel):
    page_digest: str
    chunks: list[ChunkPlan]
    correlation_id: str
    client_essay_ids: list[str] = Field(default_factory=list)  # ids the client chose
    create_digest: str | None = None  # set by the creating request: must match the batch's


class PageAssignment(BaseModel):
    """The chunk numbers a page was given; the same page always gets the same ones."""

    chunk_numbers: list[int]
    duplicate: bool = False  # True when this page had been added before
    # The batch as a creating page left it, for the API's cached status answers: a client's
    # first status read then needs no server. None for other pages and from older workers.
    status: BatchStatus | None = None


class ChunkSummary(BaseModel):
    number: int
    essay_count: int
    accepted_at: datetime
    started: bool = False
    command_sent: Literal["publish", "cancel"] | None = None
    counts: EssayCounts = Field(default_factory=EssayCounts)
    report_seq: int = 0
    done: bool = False


class BatchRecord(BaseModel):
    """Everything the parent knows, small enough to carry across continue-as-new."""

    batch_id: str
    correlation_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    create_digest: str
    created_at: datetime
    triggered_at: datetime | None = None
    cancelled_at: datetime | None = None
    finished_at: datetime | None = None
    pages: dict[str, list[int]] = Field(default_factory=dict)  # page digest -> chunk numbers
    chunks: list[ChunkSummary] = Field(default_factory=list)
    client_essay_ids: list[str] = Field(default_factory=list)
    runs: int = 1  # how many runs (continue-as-new) this batch has taken


class BatchInput(BaseModel):
    batch_id: str
    correlation_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    create_digest: str  # what the creating request contained: a repeat must match it
    # Carried across continue-as-new; None on the first run.
    carried: BatchRecord | None = None


class ChunkReport(BaseModel):
    """A chunk's cumulative counts, signalled to the parent; `seq` orders the reports."""

    chunk_number: int
    seq: int
    counts: EssayCounts
    done: bool = False


class TriggerResult(BaseModel):
    essay_count: int
    # The batch as the trigger left it, for the API's cached status answers. None from workers
    # that predate it.
    status: BatchStatus | None = None


# The parent numbers its chunks from here, in the order their pages arrive.
FIRST_CHUNK_NUMBER = 1


class ChunkRef(BaseModel):
    number: int
    essay_count: int


class BatchStatus(BaseModel):
    """The parent's answer to the status query, and its result once closed."""

    batch_id: str
    state: BatchState
    correlation_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    counts: EssayCounts
    oldest_unpublished_at: datetime | None = None
    created_at: datetime
    triggered_at: datetime | None = None
    cancelled_at: datetime | None = None
    finished_at: datetime | None = None
    chunks: list[ChunkRef] = Field(default_factory=list)
    runs: int = 1


# -- the chunks ------------------------------------------------------------------------------


class EssayRef(BaseModel):
    essay_id: str


class EssayText(EssayRef):
    text: str


class ChunkHeader(BaseModel):
    """A chunk's input as the workflow reads it: the same payload as ChunkInput, texts skipped.

    The workflow never needs the texts (its store activity reads them from history), so it does
    not keep a copy of them in memory for as long as it stays cached on the worker.
    """

    batch_id: str
    chunk_number: int
    correlation_id: str
    essays: list[EssayRef]
    # A killed worker, or a cancel, reaches a running chunk activity within about this long
    # (heartbeats are throttled to 80% of it). From the API's settings.
    heartbeat_timeout_s: float = 10.0


class ChunkInput(ChunkHeader):
    """A chunk's input as the API sends it, with the texts."""

    essays: list[EssayText]


class ChunkCommand(BaseModel):
    action: Literal["publish", "cancel"]


class StoreChunkInput(BaseModel):
    """Which of the chunk's essays to store. No texts: the activity reads them from the chunk's
    own input (its first history event), so they are written to history once, not twice."""

    batch_id: str
    chunk_number: int
    correlation_id: str
    essay_ids: list[str]  # only those still to store
    # The chunk's first run id: with an essay id, the Content Service's Idempotency-Key.
    submission: str | None = None


class StoreChunkResult(BaseModel):
    """Per essay: a storage id, or an error no retry can fix. Essays absent are to retry."""

    stored: dict[str, str] = Field(default_factory=dict)  # essay id -> storage id
    rejected: dict[str, str] = Field(default_factory=dict)  # essay id -> error


class PublishChunkInput(BaseModel):
    events: list[SpellcheckRequestedEvent]


class PublishChunkResult(BaseModel):
    published: list[str] = Field(default_factory=list)  # essay ids the broker acknowledged


class EssayEntry(BaseModel):
    essay_id: str
    state: EssayState
    text_storage_id: str | None = None
    event_id: str | None = None  # set once its event is built
    error: str | None = None


class ChunkStatus(BaseModel):
    """A chunk's query answer and result: every essay's state."""

    batch_id: str
    chunk_number: int
    essays: list[EssayEntry]

    @classmethod
    def all_received(cls, batch_id: str, chunk_number: int, essay_ids: list[str]) -> ChunkStatus:
        """A chunk's status as it starts (its memo from the start, and its workflow's state)."""
        return cls(
            batch_id=batch_id,
            chunk_number=chunk_number,
            essays=[EssayEntry(essay_id=e, state=EssayState.RECEIVED) for e in essay_ids],
        )
