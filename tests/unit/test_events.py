import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.events import (
    EVENT_TYPE,
    SCHEMA_FILES,
    SpellcheckRequestedEvent,
    event_id_for,
    json_schema_text,
)

SCHEMA_FILE = Path(__file__).parents[2] / "schemas" / "essay.spellcheck.requested.v1.schema.json"
NOW = datetime(2025, 5, 25, 12, 0, tzinfo=UTC)


RUN = "0196e3f2-6b1c-7d3a-9f2e-5a4b3c2d1e0f"  # the first run id of the holding workflow


def make(batch_id: str | None = None) -> SpellcheckRequestedEvent:
    return SpellcheckRequestedEvent.for_essay(
        essay_id="essay_123",
        text_storage_id="a" * 32,
        correlation_id="corr_123",
        timestamp=NOW,
        submission=RUN,
        batch_id=batch_id,
    )


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_committed_schemas_match_the_models(name: str) -> None:
    assert (SCHEMA_FILE.parent / name).read_text() == json_schema_text(SCHEMA_FILES[name]), (
        "an event model and schemas/ drifted: run `make schema` and review the diff"
    )


def test_single_essay_body_is_the_seeds_shape_plus_event_id() -> None:
    body = json.loads(make().to_bytes())
    assert body == {
        "event_id": str(event_id_for("essay_123", None, RUN)),
        "event": EVENT_TYPE,
        "entity_ref": {"entity_id": "essay_123", "entity_type": "essay"},
        "status": "pending_spellcheck",
        "system_metadata": {"timestamp": "2025-05-25T12:00:00Z", "correlation_id": "corr_123"},
        "text_storage_id": "a" * 32,
    }


def test_batch_essay_carries_parent_id() -> None:
    body = json.loads(make(batch_id="b1").to_bytes())
    assert body["entity_ref"] == {
        "entity_id": "essay_123",
        "entity_type": "essay",
        "parent_id": "b1",
    }


def test_event_id_is_fixed_per_submission_and_request_and_scoped_by_batch() -> None:
    assert make().event_id == make().event_id
    assert event_id_for("e1", "b1", RUN, 2) == uuid.uuid5(
        uuid.UUID("6f1c3c9e-5a8e-5d0b-9a57-2c1a8e0f4b11"),
        f"b1/e1/{RUN}/2:essay.spellcheck.requested.v1",
    )
    assert event_id_for("e1", None, RUN) == event_id_for("e1", None, RUN, 1)
    ids = {
        event_id_for("e1", "b1", RUN),
        event_id_for("e1", "b2", RUN),
        event_id_for("e1", None, RUN),
        # The same client ids accepted again (next term, after retention): a new id.
        event_id_for("e1", "b1", "another-first-run-id"),
        event_id_for("e1", "b1", RUN, 2),
    }
    assert len(ids) == 5


def test_headers_follow_header_first_convention() -> None:
    event = make()
    assert dict(event.headers()) == {
        "event_id": str(event.event_id).encode(),
        "event_type": EVENT_TYPE.encode(),
        "correlation_id": b"corr_123",
        "source_service": b"huleedu-batch-service",
    }
    assert event.key == b"essay_123"


def test_no_other_fields_and_body_round_trips() -> None:
    body = json.loads(make().to_bytes())
    assert SpellcheckRequestedEvent.model_validate(body) == make()
    with pytest.raises(ValidationError):
        SpellcheckRequestedEvent.model_validate({**body, "extra": 1})
    with pytest.raises(ValidationError):
        SpellcheckRequestedEvent.model_validate({**body, "status": "done"})


def test_schema_requires_every_field_but_parent_id() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(json.loads(make().to_bytes()))
    entity_ref = schema["$defs"]["EntityRef"]
    assert "parent_id" not in entity_ref["required"]
    assert entity_ref["properties"]["parent_id"] == {"title": "Parent Id", "type": "string"}
