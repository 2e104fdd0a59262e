"""After a scenario: count what arrived against what was accepted, and check every copy.

The events are compared by `event_id`; a copy after the first is a duplicate, and must be
byte-identical to the first.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from activities.kafka import PRODUCER_DISCARDED, PRODUCER_STARTED, PRODUCER_STOPPED
from tests.faults.counter import Copy, EventCounter, changed_fields
from tests.faults.load import Essay
from tests.faults.report import Row

if TYPE_CHECKING:
    from tests.faults.scenario import Scenario


def tally(run: Scenario, expected: dict[str, Essay]) -> Row:
    """The scenario's row; `expected` maps each accepted essay's event_id to the essay."""
    client, counter = run.client, run.counter
    published = len(expected.keys() & counter.published)
    batched = sum(1 for e in client.accepted.values() if e.batch_id)
    return Row(
        scenario=run.name,
        singles=client.planned - batched,
        batched=batched,
        accepted=len(client.accepted),
        refused=client.refused,
        published=published,
        duplicates=counter.duplicates,
        unlike=len(counter.unlike),
        lost=len(expected) - published,
        outage_s=run.outage_s,
        seconds=time.monotonic() - run.began,
    )


def assert_repeats_identical(counter: EventCounter, expected: dict[str, Essay]) -> None:
    """Every copy after the first is byte-identical to it: the same event id, timestamp and
    storage id, for a single essay whose workflow task was lost after its publish too (its
    event is rebuilt from its acceptance time, and the Content Service's Idempotency-Key
    returns the first storage id)."""
    if counter.unlike:
        event_id, first, later = counter.unlike[0]
        raise AssertionError(
            f"{len(counter.unlike)} repeats differ from their first copy; "
            f"{expected[event_id].essay_id}'s in {sorted(changed_fields(first, later))}"
        )


async def check_copies(content_url: str, copies: list[tuple[Copy, Essay]]) -> None:
    """Each copy names its essay, and the text it points to reads back byte for byte."""
    async with httpx.AsyncClient(timeout=30) as http:
        for copy, essay in copies:
            event = json.loads(copy.value)
            assert copy.key == essay.essay_id.encode()
            assert event["entity_ref"]["entity_id"] == essay.essay_id
            assert event["entity_ref"].get("parent_id") == essay.batch_id
            stored = await http.get(f"{content_url}/{event['text_storage_id']}")
            assert stored.status_code == 200, essay.essay_id
            assert stored.text == essay.text, essay.essay_id


async def explain(api: httpx.AsyncClient, missing: list[Essay]) -> str:
    """What the API says about a few of the missing essays and about their batches."""
    notes = []
    for essay in [e for e in missing if not e.batch_id][:3]:
        response = await api.get(f"/v1/essays/{essay.essay_id}/status")
        notes.append(f"{essay.essay_id}: {response.status_code} {response.text[:400]}")
    for batch_id in sorted({e.batch_id for e in missing if e.batch_id}):
        body = (await api.get(f"/v1/batch/{batch_id}/status")).json()
        notes.append(f"{batch_id}: {body.get('state')} {body.get('counts')}")
    return "; ".join(notes)


def producers_overlapping(worker_log: Path) -> list[int]:
    """Producers the worker started while one it had discarded was still stopping (and so
    still sending what it had queued): the embedded broker loses acknowledged events when two
    producers write at once right after a restart. Read from the worker's JSON log."""
    stopping: set[int] = set()
    overlapping = []
    for line in worker_log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        number = record.get("producer") if isinstance(record, dict) else None
        if record.get("message") == PRODUCER_DISCARDED:
            stopping.add(number)
        elif record.get("message") == PRODUCER_STOPPED:
            stopping.discard(number)
        elif record.get("message") == PRODUCER_STARTED and stopping:
            overlapping.append(number)
    return overlapping
