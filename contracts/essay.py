"""Workflow inputs, results and query answers. No I/O imports: the API, the workflows and the
activities all import this module, and the workflow sandbox loads it cheaply.

Every field added later must have a default, so histories recorded before it still replay.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

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
    error: str | None = None


EssayInput.model_rebuild()  # it refers to EssayStatus, defined after it
