"""The shapes of the API's answers, as models for the OpenAPI document.

The handlers build their answers as plain dicts; these models say what those dicts hold, and
the tests hold the two together: the fuzz test checks every answer against the document built
from these models, and `extra="forbid"` makes a field added to an answer but not here a failure.
An essay's status is `contracts.essay.EssayStatus` itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.batch import BatchState
from contracts.essay import EssayState


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(Answer):
    status: Literal["ok"]


class Ready(Answer):
    status: Literal["ready"]
    checks: dict[str, Literal["ok"]]
    latency_ms: float


class NotReady(Answer):
    """`/readyz` when a dependency does not answer: the error shape, plus `status`."""

    status: Literal["not_ready"]
    error: str
    details: dict[str, str] = Field(description="what failed, by dependency")


class FieldError(Answer):
    field: str = Field(description="where: a body field (dotted path), a header or a parameter")
    message: str
    type: str = Field(description="a machine-readable kind, e.g. `missing`, `string_type`")


class ErrorBody(Answer):
    """Every error: a short title and the details (a sentence, or one entry per bad field)."""

    error: str = Field(description="a short title, e.g. `Validation failed`, `Not Found`")
    details: str | list[FieldError]


class EssayAccepted(Answer):
    message: Literal["Spellcheck triggered"]
    essay_id: str
    correlation_id: str


class BatchAccepted(Answer):
    batch_id: str
    essay_ids: list[str] = Field(description="the page's essays, in the order sent")
    essay_count: int
    correlation_id: str
    status_url: str


class BatchTriggered(Answer):
    batch_id: str
    message: Literal["Spellcheck triggered"]
    essay_count: int
    status_url: str


class BatchCancelled(Answer):
    batch_id: str
    message: str
    status_url: str


class BatchCounts(Answer):
    received: int
    stored: int
    published: int
    failed: int
    cancelled: int
    total: int


class Backlog(Answer):
    essays: int = Field(description="accepted but not yet published")
    oldest_accepted_at: datetime | None
    oldest_age_s: float | None


class BatchEssay(Answer):
    essay_id: str
    state: EssayState
    text_storage_id: str | None
    event_id: str | None = Field(description="its event's id, once the event is built")
    error: str | None
    retrying_step: str | None = Field(description="the step being retried, if one is")
    attempts: int | None
    last_error: str | None


class EssayPage(Answer):
    offset: int
    limit: int
    total: int
    next_offset: int | None = Field(description="the next page's offset; null on the last page")
    items: list[BatchEssay]


class BatchStatusAnswer(Answer):
    batch_id: str
    state: BatchState
    correlation_id: str
    metadata: dict[str, Any]
    counts: BatchCounts
    backlog: Backlog
    created_at: datetime
    triggered_at: datetime | None
    cancelled_at: datetime | None
    finished_at: datetime | None
    essays: EssayPage
    workflow_runs: int = Field(description="runs of the batch's workflow (continue-as-new)")
