"""Batches end to end: create, page, trigger, follow, cancel, on the real stack."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers import TopicReader, expected_event_ids, wait_until
from tests.stack import Stack


def essays(count: int, label: str) -> list[dict]:
    return [{"text": f"{label} essay {n}: " + "lorem ipsum " * 20} for n in range(count)]


async def status(stack: Stack, batch_id: str, **params) -> dict:
    response = await stack.api.get(f"/v1/batch/{batch_id}/status", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_state(stack: Stack, batch_id: str, state: str, timeout_s: float = 90) -> dict:
    async def reached():
        body = await status(stack, batch_id)
        return body if body["state"] == state else None

    return await wait_until(reached, timeout_s=timeout_s, what=f"batch {batch_id} to be {state}")


async def test_a_batch_in_pages_is_published_essay_by_essay(stack: Stack) -> None:
    batch_id = f"b-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": essays(250, "p1"), "metadata": {"class": "9B"}},
        headers={"X-Correlation-ID": "corr-batch-1"},
    )
    assert created.status_code == 202, created.text
    first = created.json()
    assert first["batch_id"] == batch_id
    assert first["essay_count"] == len(first["essay_ids"]) == 250
    assert first["correlation_id"] == "corr-batch-1"
    assert first["status_url"] == f"/v1/batch/{batch_id}/status"

    # The same request again is the same batch; other essays under its id are a conflict.
    again = await stack.api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": essays(250, "p1"), "metadata": {"class": "9B"}},
    )
    assert again.status_code == 202
    assert again.json()["essay_ids"] == first["essay_ids"]
    assert again.json()["correlation_id"] == "corr-batch-1"
    other = await stack.api.post("/v1/batch", json={"batch_id": batch_id, "essays": essays(3, "x")})
    assert other.status_code == 409

    page = await stack.api.post(f"/v1/batch/{batch_id}/essays", json={"essays": essays(60, "p2")})
    assert page.status_code == 202, page.text
    essay_ids = first["essay_ids"] + page.json()["essay_ids"]
    assert len(set(essay_ids)) == 310

    triggered = await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")
    assert triggered.status_code == 202, triggered.text
    assert triggered.json()["essay_count"] == 310
    late = await stack.api.post(f"/v1/batch/{batch_id}/essays", json={"essays": essays(1, "late")})
    assert late.status_code == 409
    assert (await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 409

    final = await wait_for_state(stack, batch_id, "completed")
    assert final["counts"] == {
        "received": 0,
        "stored": 0,
        "published": 310,
        "failed": 0,
        "cancelled": 0,
        "spellchecked": 0,  # results are not followed here (tests/results follows them)
        "spellcheck_failed": 0,
        "spellcheck_timed_out": 0,
        "total": 310,
    }
    assert final["backlog"] == {"essays": 0, "oldest_accepted_at": None, "oldest_age_s": None}
    assert final["metadata"] == {"class": "9B"}
    assert final["triggered_at"] and final["finished_at"]

    async with TopicReader(stack.settings.kafka_bootstrap_servers, stack.settings.kafka_topic) as r:
        messages = await r.read_keys({e.encode() for e in essay_ids}, timeout_s=60)
    expected = await expected_event_ids(stack.client, batch_ids=[batch_id])
    async with httpx.AsyncClient() as http:
        for n, essay_id in enumerate(essay_ids):
            event = messages[essay_id.encode()].body
            assert event["entity_ref"] == {
                "entity_id": essay_id,
                "entity_type": "essay",
                "parent_id": batch_id,
            }
            assert event["event_id"] == expected[essay_id]
            stored = await http.get(
                f"{stack.settings.content_service_url}/{event['text_storage_id']}"
            )
            label, index = ("p1", n) if n < 250 else ("p2", n - 250)
            assert stored.text == essays(index + 1, label)[index]["text"]

    # Paging over the per-essay states, after the run (answered from results).
    first_page = await status(stack, batch_id, offset=0, limit=100)
    assert [e["essay_id"] for e in first_page["essays"]["items"]] == essay_ids[:100]
    assert first_page["essays"]["next_offset"] == 100
    tail = await status(stack, batch_id, offset=290, limit=50)
    assert [e["essay_id"] for e in tail["essays"]["items"]] == essay_ids[290:]
    assert tail["essays"]["next_offset"] is None
    assert {e["state"] for e in tail["essays"]["items"]} == {"published"}
    bad = await stack.api.get(f"/v1/batch/{batch_id}/status", params={"limit": 0})
    assert bad.status_code == 400


async def test_a_cancelled_batch_publishes_nothing_more(stack: Stack) -> None:
    created = await stack.api.post("/v1/batch", json={"essays": essays(120, "cancel")})
    assert created.status_code == 202
    batch_id = created.json()["batch_id"]
    await wait_for_state(stack, batch_id, "ready")

    cancelled = await stack.api.post(f"/v1/batch/{batch_id}/cancel")
    assert cancelled.status_code == 202
    final = await wait_until(
        lambda: status(stack, batch_id),
        timeout_s=60,
        what="the cancelled batch to finish",
    )
    final = await wait_for_state(stack, batch_id, "cancelled")

    async def finished():
        body = await status(stack, batch_id)
        return body if body["finished_at"] else None

    final = await wait_until(finished, timeout_s=60, what="the cancelled batch to close")
    assert final["counts"]["cancelled"] == 120
    assert final["counts"]["published"] == 0
    assert (await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 409
    assert (await stack.api.post(f"/v1/batch/{batch_id}/cancel")).status_code == 409
    more = await stack.api.post(f"/v1/batch/{batch_id}/essays", json={"essays": essays(1, "x")})
    assert more.status_code == 409


async def test_unknown_batches_are_404(stack: Stack) -> None:
    for method, path in [
        ("GET", "/v1/batch/nope-1/status"),
        ("POST", "/v1/batch/nope-1/spellcheck"),
        ("POST", "/v1/batch/nope-1/cancel"),
    ]:
        response = await stack.api.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert set(response.json()) == {"error", "details"}
    page = await stack.api.post("/v1/batch/nope-1/essays", json={"essays": essays(1, "x")})
    assert page.status_code == 404
