"""The activities' counters, made with the SDK's metric meter.

They come out of the worker's Prometheus endpoint beside the SDK's own metrics, labelled with the
activity's namespace, task queue and type (`store_essay` for single essays, `store_chunk` for a
batch's). Counted per essay, so a chunk of a hundred moves a counter by a hundred.
"""

from __future__ import annotations

from typing import Literal

from temporalio import activity

CONTENT_STORED = "huleedu_content_stored_total"
EVENTS_PUBLISHED = "huleedu_events_published_total"

ContentOutcome = Literal["stored", "rejected", "unavailable"]
EventOutcome = Literal["published", "failed"]


def count_content(outcome: ContentOutcome, essays: int = 1) -> None:
    """Essays the Content Service stored, rejected (400, 413, 415, 422: final), or could not
    take (anything else: retried)."""
    _add(CONTENT_STORED, "Essays sent to the Content Service, by outcome", outcome, essays)


def count_events(outcome: EventOutcome, events: int = 1) -> None:
    """Events the broker acknowledged, or did not (retried)."""
    _add(EVENTS_PUBLISHED, "Spellcheck-requested events sent to Kafka, by outcome", outcome, events)


def _add(name: str, description: str, outcome: str, value: int) -> None:
    if value:
        # The meter carries the activity's labels. Making the counter on each call costs about
        # 20 µs (measured), nothing beside a Content Service request or a Kafka send.
        counter = activity.metric_meter().create_counter(name, description)
        counter.add(value, {"outcome": outcome})
