"""Taking a spellcheck result: the rules an essay's workflow and a batch chunk share.

A result is matched by essay id and the correlation id it carries (the request's, copied by
the spell checker): it carries nothing else of the submission. Any result of the submission
counts while the essay is not final, whichever of its requests it answers; one arriving after
is not applied. What is not applied is counted by why, and logged.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.essay import FINAL_STATES, EssayState
    from contracts.results import SpellcheckOutcome

# Why a result was not applied.
DUPLICATE = "duplicate"  # the essay already has this outcome
LATE = "late"  # the essay was already final with another outcome
STALE = "stale"  # another submission's (its correlation id), or no request went out yet
UNKNOWN = "unknown"  # no such essay here


class Followed(Protocol):
    """An essay's fields a result sets: EssayStatus (single essays) and EssayEntry (chunks)."""

    state: EssayState
    event_id: str | None
    error: str | None
    requests: int
    corrected_text_storage_id: str | None
    corrected_text_path: str | None
    corrections_made: int | None


def apply_result(essay: Followed, result: SpellcheckOutcome, correlation_id: str) -> str | None:
    """Set the essay's outcome from the result; the reason it was ignored, or None if taken."""
    if result.correlation_id != correlation_id or essay.event_id is None:
        return STALE
    new_state = EssayState.SPELLCHECKED if result.success else EssayState.SPELLCHECK_FAILED
    if essay.state in FINAL_STATES:
        return DUPLICATE if essay.state == new_state else LATE
    if essay.state not in (EssayState.STORED, EssayState.PUBLISHED):
        return STALE  # received: no request of this submission went out
    # A stored essay whose event is built is being published: a fast checker answered before
    # the broker's acknowledgement reached the workflow.
    essay.state = new_state
    essay.requests = max(essay.requests, 1)
    if result.success:
        essay.corrected_text_storage_id = result.storage_id
        essay.corrected_text_path = result.path
        essay.corrections_made = result.corrections_made
        essay.error = None
    else:
        essay.error = result.error or "the spell checker gave no reason"
    return None


# Counted by the worker (its Prometheus endpoint), labelled with the workflow's type.
RESULTS_IGNORED = "huleedu_results_ignored_total"


def log_ignored(reason: str, result: SpellcheckOutcome, where: str) -> None:
    """Log and count a result not applied. The SDK's meter skips replays: counted once."""
    workflow.logger.warning(
        "spellcheck result ignored (%s): essay %s in %s", reason, result.essay_id, where
    )
    workflow.metric_meter().create_counter(
        RESULTS_IGNORED, "Spellcheck results a waiting workflow did not apply, by reason"
    ).add(1, {"reason": reason})
