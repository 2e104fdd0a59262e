"""Workflow inputs, results and query answers. No I/O imports: the API, the workflows and the
activities all import this module, and the workflow sandbox loads it cheaply.

Every field added later must have a default, so histories recorded before it still replay.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from contracts.events import SpellcheckRequestedEvent

# Activity names are fixed strings so histories and test doubles never depend on Python names.
STORE_ESSAY = "store_essay"
PUBLISH_SPELLCHECK_REQUESTED = "publish_spellcheck_requested"


class EssayState(StrEnum):
    RECEIVED = "received"  # accepted; the text is not yet in the Content Service
    STORED = "stored"  # the text has a storage id; the event is not yet acknowledged
    PUBLISHED = "published"  # the broker acknowledged the event
    FAILED = "failed"  # a step failed in a way a retry cannot fix
    CANCELLED = "cancelled"  # its batch was cancelled before the event went out
    SPELLCHECKED = "spellchecked"  # the spell checker's result: corrected text stored
    SPELLCHECK_FAILED = "spellcheck_failed"  # the spell checker's result: it could not
    SPELLCHECK_TIMED_OUT = "spellcheck_timed_out"  # no result for any of its requests


# States nothing changes any more (but a retry, for the two that name a spellcheck's failure).
FINAL_STATES = frozenset(
    {
        EssayState.FAILED,
        EssayState.CANCELLED,
        EssayState.SPELLCHECKED,
        EssayState.SPELLCHECK_FAILED,
        EssayState.SPELLCHECK_TIMED_OUT,
    }
)
# Final states a retry (POST .../retry) sends a new request for.
RETRIABLE_STATES = frozenset({EssayState.SPELLCHECK_FAILED, EssayState.SPELLCHECK_TIMED_OUT})


class Following(BaseModel):
    """How long to wait for spellcheck results, from the API's settings. The defaults (0
    requests) are those of workflows started before results were followed: they end at
    `published`, so their histories replay unchanged."""

    max_requests: int = 0  # requests per essay before it is spellcheck_timed_out; 0: not followed
    timeout_s: float = 1800.0  # without a result this long, the request is sent again
    retry_window_s: float = 0.0  # how long a finished essay or batch takes a retry

    @property
    def on(self) -> bool:
        return self.max_requests > 0


class EssayInput(BaseModel):
    """The single-essay workflow's input: everything the API accepted."""

    essay_id: str
    text: str  # emptied when continuing as new after the text was stored
    correlation_id: str
    # Carried across continue-as-new (a long outage): what the earlier runs achieved.
    resume: EssayStatus | None = None
    resume_event: SpellcheckRequestedEvent | None = None
    accepted_at: datetime | None = None  # the first run's start; the event's timestamp
    # The W3C trace context of the request that brought the essay, put on its event's headers.
    traceparent: str | None = None
    following: Following = Field(default_factory=Following)
    resume_requested_at: datetime | None = None  # when the latest request went out


class StoreEssayInput(BaseModel):
    essay_id: str
    text: str
    correlation_id: str
    # Sent as the Content Service's Idempotency-Key: a repeated store gets the same storage id.
    idempotency_key: str | None = None


class StoredEssay(BaseModel):
    storage_id: str


class PublishEventInput(BaseModel):
    event: SpellcheckRequestedEvent
    traceparent: str | None = None  # fixed at acceptance: a repeat sends the same headers


class PublishedEvent(BaseModel):
    """Where the broker put the event; the offset helps when tracing a message."""

    topic: str
    partition: int
    offset: int


class EssayStatus(BaseModel):
    """What the status endpoint shows for one essay; `retrying_step`, `attempts` and
    `last_error` describe a step that is failing and being retried."""

    essay_id: str
    state: EssayState
    correlation_id: str
    batch_id: str | None = None
    text_storage_id: str | None = None
    event_id: str | None = None
    retrying_step: str | None = None
    attempts: int | None = None
    last_error: str | None = None
    error: str | None = None  # why it failed, or why the spell checker could not check it
    # Once published: how many requests went out (a timeout sends request n+1), and the result.
    requests: int = 0
    requests_before_round: int = 0  # those sent in earlier rounds (before the latest retry)
    corrected_text_storage_id: str | None = None
    corrected_text_path: str | None = None
    corrections_made: int | None = None
    round: int = 1  # retries start a new round
    # Results not applied, by why: duplicate, late (the essay was final), stale, unknown.
    ignored_results: dict[str, int] = Field(default_factory=dict)


EssayInput.model_rebuild()  # it refers to EssayStatus, defined after it
