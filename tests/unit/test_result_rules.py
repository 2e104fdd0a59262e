"""How a workflow takes a spellcheck result (workflows/results.py), and how the consumer
splits a poll's results into signals: rules of one function each."""

from __future__ import annotations

import json

import pytest
from aiokafka import ConsumerRecord

from contracts.batch import EssayEntry
from contracts.essay import EssayState
from contracts.results import MAX_RESULT_TEXT, SpellcheckOutcome, parse_result
from results import consumer as results_consumer
from workflows.results import DUPLICATE, LATE, STALE, apply_result

CORRELATION = "corr-1"


def outcome(success: bool = True, correlation_id: str = CORRELATION) -> SpellcheckOutcome:
    return SpellcheckOutcome(
        essay_id="e1",
        correlation_id=correlation_id,
        success=success,
        storage_id="s" * 32 if success else None,
        corrections_made=2 if success else 0,
        error=None if success else "no dictionary",
    )


def entry(state: EssayState, event_id: str | None = "ev") -> EssayEntry:
    return EssayEntry(essay_id="e1", state=state, event_id=event_id, requests=1)


def test_a_result_before_the_publish_is_recorded_is_kept() -> None:
    # A fast checker: the event is built and sent, the broker's acknowledgement not yet seen.
    essay = entry(EssayState.STORED)
    assert apply_result(essay, outcome(), CORRELATION) is None
    assert essay.state == EssayState.SPELLCHECKED and essay.corrected_text_storage_id


def test_a_failure_keeps_its_reason() -> None:
    essay = entry(EssayState.PUBLISHED)
    assert apply_result(essay, outcome(success=False), CORRELATION) is None
    assert (essay.state, essay.error) == (EssayState.SPELLCHECK_FAILED, "no dictionary")


@pytest.mark.parametrize(
    ("essay", "result", "reason"),
    [
        (entry(EssayState.SPELLCHECKED), outcome(), DUPLICATE),
        (entry(EssayState.SPELLCHECK_TIMED_OUT), outcome(), LATE),
        (entry(EssayState.SPELLCHECKED), outcome(success=False), LATE),
        (entry(EssayState.PUBLISHED), outcome(correlation_id="another"), STALE),
        (entry(EssayState.RECEIVED, event_id=None), outcome(), STALE),
        (entry(EssayState.CANCELLED), outcome(), LATE),
    ],
)
def test_results_that_change_nothing_say_why(essay, result, reason) -> None:
    before = essay.model_copy()
    assert apply_result(essay, result, CORRELATION) == reason
    assert essay == before


def test_strings_from_a_result_are_capped_before_a_workflow_sees_them() -> None:
    raw = {
        "event": "huleedu.essay.spellcheck.completed.v1",
        "entity_ref": {"entity_id": "e1", "entity_type": "essay", "parent_id": "b"},
        "status": "spellcheck_failed",
        "system_metadata": {"correlation_id": "c" * 5000, "error_info": {"why": "x" * 9000}},
        "unknown_field": 1,
    }
    taken = parse_result(json.dumps(raw).encode()).outcome()
    assert len(taken.error or "") <= MAX_RESULT_TEXT
    assert len(taken.correlation_id) <= MAX_RESULT_TEXT


class RecordingClient:
    """Stands in for Temporal: records the signals a delivery sends."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, int]] = []

    def get_workflow_handle(self, workflow_id: str):
        client = self

        class Handle:
            async def signal(self, name, delivery) -> None:
                client.signals.append((workflow_id, len(delivery.results)))

        return Handle()


async def test_a_polls_results_for_one_chunk_go_in_signals_of_at_most_125(monkeypatch) -> None:
    client = RecordingClient()
    router = results_consumer.ResultsRouter(client)  # type: ignore[arg-type]

    async def chunk_of(batch_id: str, essay_id: str) -> str:
        return "page.0"

    monkeypatch.setattr(router.finder, "chunk_of", chunk_of)
    records = [
        ConsumerRecord("t", 0, i, 0, 0, b"k", _result(f"e{i}"), None, 0, 0, []) for i in range(300)
    ]
    await router.deliver(records)
    assert client.signals == [
        ("batch-b/page.0", 125),
        ("batch-b/page.0", 125),
        ("batch-b/page.0", 50),
    ]


def _result(essay_id: str) -> bytes:
    return json.dumps(
        {
            "event": "huleedu.essay.spellcheck.completed.v1",
            "entity_ref": {"entity_id": essay_id, "parent_id": "b"},
            "status": "spellchecked_success",
            "system_metadata": {"correlation_id": "c"},
            "storage_metadata": {"references": {"corrected_text": {"storage_id": "s"}}},
            "corrections_made": 1,
        }
    ).encode()


def test_a_foreign_checkers_result_in_its_own_forms_is_read() -> None:
    """What another implementation of the contract may write: nulls where a field has no
    value, a naive timestamp, an envelope's extra fields."""
    raw = {
        "event": "huleedu.essay.spellcheck.completed.v1",
        "event_id": "4b7e0a86-0000-4000-8000-000000000000",
        "entity_ref": {"entity_id": "e1", "entity_type": "essay", "parent_id": None},
        "status": "spellcheck_failed",
        "system_metadata": {
            "timestamp": "2026-12-06T10:00:00",
            "correlation_id": "c",
            "error_info": {"code": "TEXT_NOT_FOUND"},
            "processing_stage": "completed",
        },
        "storage_metadata": None,
        "corrections_made": None,
    }
    result = parse_result(json.dumps(raw).encode())
    taken = result.outcome()
    assert result.entity_ref.parent_id is None
    assert (taken.success, taken.corrections_made) == (False, 0)
    assert taken.error == '{"code": "TEXT_NOT_FOUND"}'
