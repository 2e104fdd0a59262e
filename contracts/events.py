"""The events we publish: `essay.spellcheck.requested.v1` (the shape the HuleEdu Batch Service
specification gives, plus an event id fixed per submission and request) and our
`batch.spellcheck.completed.v1`.

Dependency-free (pydantic only) so the API, the workflows and the activities share one model.
`python -m contracts.events schemas` (`make schema`) writes their JSON Schemas there.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

EVENT_TYPE = "huleedu.essay.spellcheck.requested.v1"
TOPIC = "essay.spellcheck.requested.v1"
SOURCE_SERVICE = "huleedu-batch-service"
# Fixed forever: changing it would change every event id and defeat consumers' deduplication.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c3c9e-5a8e-5d0b-9a57-2c1a8e0f4b11")


def event_id_for(
    essay_id: str, batch_id: str | None, submission: str, request: int = 1
) -> uuid.UUID:
    """The same request of the same accepted essay always gets the same id, so a retried
    publish can be dropped downstream.

    `submission` names this acceptance of the essay (the first run id of the workflow holding
    it, which survives retries, continue-as-new and worker restarts), so the same client ids
    submitted again after retention get a new id that no consumer drops as a duplicate. The
    batch id keeps two batches that reuse a client essay id apart; `request` counts requests
    for the same essay (1 for the first).
    """
    name = f"{batch_id or ''}/{essay_id}/{submission}/{request}:{TOPIC}"
    return uuid.uuid5(EVENT_ID_NAMESPACE, name)


def _parent_id_is_optional(schema: dict) -> None:
    # The body is written with exclude_none, so parent_id is either a string or absent.
    schema["required"].remove("parent_id")
    schema["properties"]["parent_id"].pop("default", None)


class EntityRef(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra=_parent_id_is_optional,
    )

    entity_id: str
    entity_type: Literal["essay"] = "essay"
    # Set for essays of a batch only; omitted (not null) for single essays, as HuleEdu's
    # EntityReference does.
    parent_id: str | SkipJsonSchema[None] = None


class SystemMetadata(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    timestamp: AwareDatetime  # ISO 8601, UTC
    correlation_id: str


class SpellcheckRequestedEvent(BaseModel):
    """One message per essay on the `essay.spellcheck.requested.v1` topic."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="EssaySpellcheckRequestedV1",
        json_schema_serialization_defaults_required=True,
    )

    event_id: uuid.UUID
    event: Literal["huleedu.essay.spellcheck.requested.v1"] = EVENT_TYPE
    entity_ref: EntityRef
    status: Literal["pending_spellcheck"] = "pending_spellcheck"
    system_metadata: SystemMetadata
    text_storage_id: str = Field(min_length=1)

    @classmethod
    def for_essay(
        cls,
        *,
        essay_id: str,
        text_storage_id: str,
        correlation_id: str,
        timestamp: datetime,
        submission: str,
        batch_id: str | None = None,
        request: int = 1,
    ) -> SpellcheckRequestedEvent:
        return cls(
            event_id=event_id_for(essay_id, batch_id, submission, request),
            entity_ref=EntityRef(entity_id=essay_id, parent_id=batch_id),
            system_metadata=SystemMetadata(timestamp=timestamp, correlation_id=correlation_id),
            text_storage_id=text_storage_id,
        )

    @property
    def key(self) -> bytes:
        """The Kafka message key: the essay id, UTF-8."""
        return self.entity_ref.entity_id.encode()

    def to_bytes(self) -> bytes:
        """The message body; `exclude_none` drops `parent_id` for single essays."""
        return self.model_dump_json(exclude_none=True).encode()

    def headers(self, traceparent: str | None = None) -> list[tuple[str, bytes]]:
        """HuleEdu's header-first convention: consumers route and deduplicate unparsed; with
        tracing on, the W3C `traceparent` of the request that brought the essay."""
        return _headers(self.event_id, self.event, self.system_metadata, traceparent)


def _headers(
    event_id: uuid.UUID, event_type: str, meta: SystemMetadata, traceparent: str | None
) -> list[tuple[str, bytes]]:
    headers = [
        ("event_id", str(event_id).encode()),
        ("event_type", event_type.encode()),
        ("correlation_id", meta.correlation_id.encode()),
        ("source_service", SOURCE_SERVICE.encode()),
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


BATCH_EVENT_TYPE = "huleedu.batch.spellcheck.completed.v1"
BATCH_TOPIC = "batch.spellcheck.completed.v1"


def batch_event_id_for(batch_id: str, submission: str, round_number: int) -> uuid.UUID:
    """Fixed per batch submission and round: a retried publish sends the same id."""
    name = f"{batch_id}/{submission}/{round_number}:{BATCH_TOPIC}"
    return uuid.uuid5(EVENT_ID_NAMESPACE, name)


class BatchEntityRef(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    entity_id: str
    entity_type: Literal["batch"] = "batch"


class FinalCounts(BaseModel):
    """How many of the batch's essays ended in each final state."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    spellchecked: int = 0
    spellcheck_failed: int = 0
    spellcheck_timed_out: int = 0
    failed: int = 0  # never published: the essay itself could not be stored
    cancelled: int = 0  # never published: the batch was cancelled first


class BatchSpellcheckCompletedEvent(BaseModel):
    """One message per batch and round on `batch.spellcheck.completed.v1`, once every essay
    of the batch is final."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="BatchSpellcheckCompletedV1",
        json_schema_serialization_defaults_required=True,
    )

    event_id: uuid.UUID
    event: Literal["huleedu.batch.spellcheck.completed.v1"] = BATCH_EVENT_TYPE
    entity_ref: BatchEntityRef
    round: int = Field(ge=1)  # 1, then one more for each retry of the batch
    counts: FinalCounts
    system_metadata: SystemMetadata

    @property
    def key(self) -> bytes:
        return self.entity_ref.entity_id.encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def headers(self, traceparent: str | None = None) -> list[tuple[str, bytes]]:
        return _headers(self.event_id, self.event, self.system_metadata, traceparent)


# The events we publish, by the committed schema file that describes each (schemas/).
SCHEMA_FILES: dict[str, type[BaseModel]] = {
    f"{TOPIC}.schema.json": SpellcheckRequestedEvent,
    f"{BATCH_TOPIC}.schema.json": BatchSpellcheckCompletedEvent,
}


def json_schema_text(model: type[BaseModel] = SpellcheckRequestedEvent) -> str:
    """A committed schema file's exact text."""
    schema = model.model_json_schema(mode="serialization")
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import sys

    folder = Path(sys.argv[1])
    for name, model in SCHEMA_FILES.items():
        (folder / name).write_text(json_schema_text(model))
