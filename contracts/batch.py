"""Inputs, messages, states and answers of the batch workflows. No I/O imports.

A batch is one parent workflow (`batch-{id}`) that holds counts and per-chunk summaries, and
chunk workflows (`batch-{id}/{key}`) of at most CHUNK_MAX_ESSAYS essays that hold the texts
(in their input only) and each essay's state. A chunk's key comes from its page (`{page}.{i}`),
so the API starts it before the parent assigns it; the parent numbers chunks as it assigns them.
Every field added later must have a default.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from contracts.essay import EssayState, Following
from contracts.events import FinalCounts, SpellcheckRequestedEvent

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
PUBLISH_BATCH_EVENT = "publish_batch_event"


class BatchState(StrEnum):
    CREATED = "created"  # exists; no essay accepted yet (transient)
    STORING = "storing"  # some texts are not yet stored
    READY = "ready"  # every text stored (or failed); waiting for the trigger
    SPELLCHECK_REQUESTED = "spellcheck_requested"  # triggered; events going out
    COMPLETED = "completed"  # every essay's event published (or the essay failed)
    SPELLCHECKED = "spellchecked"  # every essay final: spellchecked, failed or timed out
    CANCELLED = "cancelled"
    FAILED = "failed"  # the batch's workflow itself failed or was terminated


class EssayCounts(BaseModel):
    received: int = 0
    stored: int = 0
    published: int = 0
    failed: int = 0
    cancelled: int = 0
    spellchecked: int = 0
    spellcheck_failed: int = 0
    spellcheck_timed_out: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in EssayCounts.model_fields)

    @property
    def retriable(self) -> int:
        """Final, and a retry sends them a new request."""
        return self.spellcheck_failed + self.spellcheck_timed_out

    def final(self) -> FinalCounts:
        return FinalCounts(
            spellchecked=self.spellchecked,
            spellcheck_failed=self.spellcheck_failed,
            spellcheck_timed_out=self.spellcheck_timed_out,
            failed=self.failed,
            cancelled=self.cancelled,
        )

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
    """One chunk of a page, as the API split it and started it."""

    essay_ids: list[str] = Field(default_factory=list)  # no longer sent: the parent counts
    key: str = ""  # its workflow id is chunk_workflow_id(batch_id, key)
    essay_count: int = 0


class AddPageInput(BaseModel):
    page_digest: str
    chunks: list[ChunkPlan]
    correlation_id: str
    client_essay_ids: list[str] = Field(default_factory=list)  # ids the client chose
    create_digest: str | None = None  # set by the creating request: must match the batch's
    # essay_id_hash of every essay id in the page (encode_hashes): the batch refuses an id it
    # holds already without keeping the ids themselves.
    id_hashes: str = ""


class PageAssignment(BaseModel):
    """The chunk numbers a page was given; the same page always gets the same ones."""

    chunk_numbers: list[int]
    duplicate: bool = False  # True when this page had been added before
    # The batch as a creating page left it, for the API's cached status answers: a client's
    # first status read then needs no server. None for other pages and from older workers.
    status: BatchStatus | None = None


class ChunkAction(StrEnum):
    """What a batch tells its chunks once it is closed."""

    PUBLISH = "publish"  # triggered: publish every stored essay's event
    CANCEL = "cancel"  # cancelled: publish nothing more; a cancel is final
    RETRY = "retry"  # a new round: request a spellcheck again for the failed and timed out
    CLOSE = "close"  # the batch's retry window is over: stop waiting for a retry


# The order of EssayCounts' fields in a chunk row (older rows hold the first five).
_COUNT_FIELDS = (
    "received",
    "stored",
    "published",
    "failed",
    "cancelled",
    "spellchecked",
    "spellcheck_failed",
    "spellcheck_timed_out",
)


# A chunk row's one-letter form of the action it was sent.
_ACTION_LETTERS = {
    ChunkAction.PUBLISH: "p",
    ChunkAction.CANCEL: "c",
    ChunkAction.RETRY: "r",
    ChunkAction.CLOSE: "x",
}


class ChunkSummary(BaseModel):
    number: int
    essay_count: int
    accepted_at: datetime
    started: bool = False  # no longer read: every assigned chunk was started before
    key: str = ""
    command_sent: ChunkAction | None = None
    counts: EssayCounts = Field(default_factory=EssayCounts)
    report_seq: int = 0
    done: bool = False

    def to_row(self) -> list[Any]:
        """Compact, for continue-as-new: positions, not the model's field names."""
        c = self.counts
        command = _ACTION_LETTERS[self.command_sent] if self.command_sent else None
        return [
            self.number,
            self.essay_count,
            self.key,
            self.accepted_at.timestamp(),
            command,
            [getattr(c, name) for name in _COUNT_FIELDS],
            self.report_seq,
            int(self.done),
        ]

    @classmethod
    def from_row(cls, row: list[Any]) -> ChunkSummary:
        number, essay_count, key, accepted, command, counts, seq, done = row
        return cls(
            number=number,
            essay_count=essay_count,
            key=key,
            accepted_at=datetime.fromtimestamp(accepted, UTC),
            command_sent=next((a for a, c in _ACTION_LETTERS.items() if c == command), None),
            counts=EssayCounts(**dict(zip(_COUNT_FIELDS, counts, strict=False))),
            report_seq=seq,
            done=bool(done),
        )


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
    # Older runs kept these; the pages and the essay ids grew with the batch. Now the pages
    # are read off the chunks' keys, and the ids' hashes are read back from the chunks.
    pages: dict[str, list[int]] = Field(default_factory=dict)  # page digest -> chunk numbers
    chunks: list[ChunkSummary] = Field(default_factory=list)
    client_essay_ids: list[str] = Field(default_factory=list)
    runs: int = 1  # how many runs (continue-as-new) this batch has taken
    chunk_rows: list[list[Any]] = Field(default_factory=list)  # ChunkSummary.to_row() each
    trigger_key: str | None = None  # the Idempotency-Key the trigger came with
    cancel_key: str | None = None
    retry_key: str | None = None  # the latest retry's
    retried_essays: int = 0  # how many essays the latest retry sent a new request
    round: int = 1  # one more for each retry
    announced_round: int = 0  # the latest round whose batch event the broker acknowledged
    spellchecked_at: datetime | None = None  # when every essay was last final
    version: int = 0  # one more for each change of the status (the stream's event ids)


class BatchInput(BaseModel):
    batch_id: str
    correlation_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    create_digest: str  # what the creating request contained: a repeat must match it
    # Carried across continue-as-new; None on the first run.
    carried: BatchRecord | None = None
    # How often a closing batch looks at chunks that have not reported their end.
    batch_check_s: float = 300.0
    # The most essays and pages the batch takes: what it carries grows with its chunks.
    max_essays: int = 100_000
    max_pages: int = 1_000
    following: Following = Field(default_factory=Following)
    traceparent: str | None = None  # of the creating request, for the batch event's headers


class ChunkReport(BaseModel):
    """A chunk's cumulative counts, signalled to the parent; `seq` orders the reports."""

    chunk_number: int = 0
    chunk_key: str = ""
    seq: int
    counts: EssayCounts
    done: bool = False


class CloseInput(BaseModel):
    """A trigger's, a cancel's or a retry's request: with the client's Idempotency-Key, the
    same request sent again gets its first answer instead of a 409."""

    idempotency_key: str | None = None


class TriggerResult(BaseModel):
    essay_count: int
    # The batch as the trigger left it, for the API's cached status answers. None from workers
    # that predate it.
    status: BatchStatus | None = None


class RetryResult(BaseModel):
    essay_count: int  # essays sent a new request
    round: int
    status: BatchStatus


def essay_id_hash(essay_id: str) -> int:
    """64 bits of an essay id: two ids in a batch of 100,000 share one with a chance of about
    one in three billion, so a batch refuses repeated ids keeping 8 bytes an id, not 64."""
    return int.from_bytes(hashlib.blake2b(essay_id.encode(), digest_size=8).digest(), "big")


def encode_hashes(hashes: Iterable[int]) -> str:
    return base64.b64encode(b"".join(h.to_bytes(8, "big") for h in hashes)).decode()


def decode_hashes(text: str) -> set[int]:
    raw = base64.b64decode(text)
    return {int.from_bytes(raw[i : i + 8], "big") for i in range(0, len(raw), 8)}


# The parent numbers its chunks from here, in the order their pages arrive.
FIRST_CHUNK_NUMBER = 1


class ChunkRef(BaseModel):
    number: int
    essay_count: int
    key: str = ""  # the chunk's workflow id is chunk_workflow_id(batch_id, key)


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
    # The Idempotency-Keys (per client) the trigger and the cancel came with: a closed batch
    # still gives a repeated request its first answer.
    trigger_key: str | None = None
    cancel_key: str | None = None
    retry_key: str | None = None
    round: int = 1
    spellchecked_at: datetime | None = None
    # Until when a retry is taken (set once spellchecked with essays to retry).
    retry_until: datetime | None = None
    version: int = 0  # which change of the batch this is: the event stream's ids


def closed_because(status: BatchStatus) -> str:
    """What a closed batch is now, for a 409: a client that could not tell whether its own
    trigger or cancel took effect (it got a 503) learns it here."""
    if status.cancelled_at is not None:
        happened = f"cancelled at {status.cancelled_at.isoformat()}"
    elif status.triggered_at is not None:
        happened = f"triggered at {status.triggered_at.isoformat()}"
    else:
        happened = "never triggered"
    return f"the batch is {status.state.value}: {happened}"


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
    chunk_number: int = 0  # unknown to the chunk: the parent numbers chunks as it assigns them
    correlation_id: str
    essays: list[EssayRef]
    # A killed worker, or a cancel, reaches a running chunk activity within about this long
    # (heartbeats are throttled to 80% of it). From the API's settings.
    heartbeat_timeout_s: float = 10.0
    chunk_key: str = ""
    # How often a chunk waiting for its batch's command looks whether the batch still runs.
    batch_check_s: float = 300.0
    # Carried across continue-as-new while waiting: what the earlier runs achieved.
    carried: ChunkCarried | None = None
    owner: str | None = None  # the client whose request started it (None while open)
    # The W3C trace context of the page's request, put on its essays' events' headers.
    traceparent: str | None = None
    following: Following = Field(default_factory=Following)


class ChunkCarried(BaseModel):
    """A waiting chunk's state, carried across continue-as-new (its texts are stored)."""

    essays: list[EssayEntry]
    report_seq: int = 0
    looks_without_batch: int = 0
    command: ChunkAction | None = None  # set: the chunk was waiting for results
    requested_at: datetime | None = None  # when its latest requests went out
    round: int = 1
    submission: str | None = None  # the first run's id: the event ids' submission
    ignored: dict[str, int] = Field(default_factory=dict)


class ChunkInput(ChunkHeader):
    """A chunk's input as the API sends it, with the texts."""

    essays: list[EssayText]


class ChunkCommand(BaseModel):
    action: ChunkAction
    round: int = 1  # for RETRY: the batch's new round


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
    traceparent: str | None = None  # fixed at acceptance: a repeat sends the same headers


class PublishChunkResult(BaseModel):
    published: list[str] = Field(default_factory=list)  # essay ids the broker acknowledged


class EssayEntry(BaseModel):
    essay_id: str
    state: EssayState
    text_storage_id: str | None = None
    event_id: str | None = None  # set once its (latest) event is built
    error: str | None = None  # why it failed, or why the spell checker could not check it
    requests: int = 0  # spellcheck requests the broker acknowledged
    requests_before_round: int = 0  # those sent in earlier rounds (before the latest retry)
    corrected_text_storage_id: str | None = None
    corrected_text_path: str | None = None
    corrections_made: int | None = None


class ChunkStatus(BaseModel):
    """A chunk's query answer and result: every essay's state."""

    batch_id: str
    chunk_number: int = 0
    essays: list[EssayEntry]
    chunk_key: str = ""
    # Results not applied, by why: duplicate, late (the essay was final), stale, unknown.
    ignored_results: dict[str, int] = Field(default_factory=dict)
    following: bool = False  # its published essays wait for their results

    @classmethod
    def all_received(cls, batch_id: str, chunk_key: str, essay_ids: list[str]) -> ChunkStatus:
        """A chunk's status as it starts (its memo from the start, and its workflow's state)."""
        return cls(
            batch_id=batch_id,
            chunk_key=chunk_key,
            essays=[EssayEntry(essay_id=e, state=EssayState.RECEIVED) for e in essay_ids],
        )

    def closed_by(self, reason: str) -> ChunkStatus:
        """The chunk as its workflow left it when closed without finishing (terminated or
        cancelled by an operator, failed): the essays still owed an event failed, and those
        still waiting for a result timed out, saying why (nothing will take their results)."""
        ends = {EssayState.RECEIVED: EssayState.FAILED, EssayState.STORED: EssayState.FAILED}
        if self.following:
            ends[EssayState.PUBLISHED] = EssayState.SPELLCHECK_TIMED_OUT
        return self.model_copy(
            update={
                "essays": [
                    e.model_copy(update={"state": ends[e.state], "error": reason})
                    if e.state in ends
                    else e
                    for e in self.essays
                ]
            }
        )

    def counts(self) -> EssayCounts:
        counts = EssayCounts()
        for entry in self.essays:
            setattr(counts, entry.state.value, getattr(counts, entry.state.value) + 1)
        return counts


# -- what the batch workflows look up about each other ---------------------------------------

LOOK_AT_BATCH = "look_at_batch"
LOOK_AT_CHUNKS = "look_at_chunks"
READ_ESSAY_ID_HASHES = "read_essay_id_hashes"


class IdHashes(BaseModel):
    hashes: str = ""  # encode_hashes of the essay ids of the chunks asked about


class LookAtBatchInput(BaseModel):
    batch_id: str
    chunk_key: str
    owner: str | None = None  # the chunk's client: a batch of another's never takes it


class BatchLook(BaseModel):
    """What a waiting chunk learns of its batch's parent."""

    exists: bool = True  # False: no batch under the id (yet: its create may still come)
    running: bool = False  # still running: keep waiting (and reporting)
    assigned: bool = False  # this chunk is one of the batch's
    triggered: bool = False  # the batch's spellcheck was requested, and it was not cancelled
    closed_for_pages: bool = False  # triggered or cancelled: no chunk can be assigned any more
    reason: str = ""  # what happened to the batch, in words, when it is not running


class LookAtChunksInput(BaseModel):
    batch_id: str
    keys: list[str]


class ChunkLook(BaseModel):
    """A chunk the parent waits for, as the server has it."""

    key: str
    running: bool
    counts: EssayCounts | None = None  # its final counts, when closed
    reason: str = ""


class ChunksLook(BaseModel):
    chunks: list[ChunkLook] = Field(default_factory=list)


# Models above refer to ones defined after them.
ChunkHeader.model_rebuild()
ChunkInput.model_rebuild()
