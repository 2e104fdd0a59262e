"""The `essay.spellcheck.completed.v1` event: HuleEdu's spell checker's result for one essay.

Read as a tolerant reader: unknown fields are ignored, and a message that does not parse is
reported (`parse_result` raises `UnreadableResult`, saying why) for its consumer to log and
count, never to stop on. Strings taken from a result are capped before they reach a memo.
The embedded spell checker (`spellcheck_service/`) writes the same shape with
`SpellcheckCompletedEvent`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RESULT_TOPIC = "essay.spellcheck.completed.v1"
# The signal that brings results to an essay's workflow or its batch chunk, a list at a time.
RESULTS_SIGNAL = "spellcheck_results"
# Results in one signal: a chunk's essays, so a chunk's history holds a bounded number of them.
MAX_RESULTS_PER_SIGNAL = 125
RESULT_EVENT = "huleedu.essay.spellcheck.completed.v1"
SUCCESS = "spellchecked_success"
FAILED = "spellcheck_failed"
# What a result's free text (its error, its path) may take up in a status or a memo.
MAX_RESULT_TEXT = 500


class UnreadableResult(ValueError):
    """A message on the results topic that is not a result we can use."""


def capped(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_RESULT_TEXT:
        return text
    return text[: MAX_RESULT_TEXT - 1] + "…"


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ResultEntityRef(_Tolerant):
    entity_id: str = Field(min_length=1)
    entity_type: str = "essay"
    parent_id: str | None = None  # the batch id, for a batch's essays


class ResultMetadata(_Tolerant):
    # Not used: any form a checker writes (naive, aware, epoch) is accepted.
    timestamp: Any = None
    correlation_id: str  # copied from the request: which submission this answers
    error_info: Any = None  # on failure: a string or an object, as the checker gives it


class StorageReference(_Tolerant):
    storage_id: str = Field(min_length=1)
    path: str | None = None


class ResultReferences(_Tolerant):
    corrected_text: StorageReference


class StorageMetadata(_Tolerant):
    references: ResultReferences


class SpellcheckCompletedEvent(_Tolerant):
    event: Literal["huleedu.essay.spellcheck.completed.v1"] = RESULT_EVENT
    entity_ref: ResultEntityRef
    status: Literal["spellchecked_success", "spellcheck_failed"]
    system_metadata: ResultMetadata
    storage_metadata: StorageMetadata | None = None  # on success
    corrections_made: int | None = Field(default=None, ge=0)  # null on a failure, by some

    @property
    def essay_id(self) -> str:
        return self.entity_ref.entity_id

    @property
    def corrected_storage_id(self) -> str | None:
        meta = self.storage_metadata
        return meta.references.corrected_text.storage_id if meta else None

    @property
    def error(self) -> str | None:
        """Why it failed, in at most MAX_RESULT_TEXT characters."""
        info = self.system_metadata.error_info
        if info is None:
            return None
        return capped(info if isinstance(info, str) else json.dumps(info, sort_keys=True))

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    def outcome(self) -> SpellcheckOutcome:
        """What a workflow needs of it, its strings capped."""
        meta = self.storage_metadata
        return SpellcheckOutcome(
            essay_id=self.essay_id,
            correlation_id=capped(self.system_metadata.correlation_id) or "",
            success=self.status == SUCCESS,
            storage_id=capped(self.corrected_storage_id),
            path=capped(meta.references.corrected_text.path) if meta else None,
            corrections_made=self.corrections_made or 0,
            error=self.error,
        )


class SpellcheckOutcome(BaseModel):
    """One result as a workflow takes it (the signal's item): small, strings capped."""

    essay_id: str
    correlation_id: str
    success: bool
    storage_id: str | None = None
    path: str | None = None
    corrections_made: int = 0
    error: str | None = None


class ResultsDelivery(BaseModel):
    """The results signal's argument: up to MAX_RESULTS_PER_SIGNAL results for one workflow."""

    results: list[SpellcheckOutcome]


def parse_result(raw: bytes | None) -> SpellcheckCompletedEvent:
    """The result in a message's value; UnreadableResult, saying why, for anything else."""
    if raw is None:
        raise UnreadableResult("an empty message")
    try:
        result = SpellcheckCompletedEvent.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise UnreadableResult(f"{where}: {first['msg']}") from None
    if result.status == SUCCESS and result.corrected_storage_id is None:
        raise UnreadableResult("a success without storage_metadata.references.corrected_text")
    return result
