"""Essays followed to their spellcheck results, end to end: the embedded spell checker answers
on the results topic, the results consumer signals the workflows, the API shows the outcome."""

from __future__ import annotations

import json
import re
import uuid

import httpx

from contracts.events import BATCH_EVENT_TYPE, batch_event_id_for
from tests.helpers import wait_until
from tests.results.conftest import Following, batch_body

FINAL = {"spellchecked", "spellcheck_failed", "spellcheck_timed_out"}


async def test_a_single_essay_ends_spellchecked_with_its_corrected_text(following: Following):
    essay_id = f"solo-{uuid.uuid4().hex[:8]}"
    answer = await following.stack.api.post(
        "/v1/trigger-spellcheck", json={"essay_id": essay_id, "text": "Thiss is wrongg."}
    )
    assert answer.status_code == 202, answer.text

    async def final() -> dict | None:
        status = await following.essay(essay_id)
        return status if status["state"] in FINAL else None

    status = await wait_until(final, timeout_s=60, what=f"{essay_id} to be spellchecked")
    assert status["state"] == "spellchecked", status
    assert status["requests"] == 1 and status["corrections_made"] >= 1
    async with httpx.AsyncClient() as http:
        url = (
            f"{following.stack.settings.content_service_url}/{status['corrected_text_storage_id']}"
        )
        corrected = (await http.get(url)).text
    assert "This" in corrected and "Thiss" not in corrected


async def test_a_batch_reaches_spellchecked_and_announces_it_once(following: Following):
    batch_id = f"class-{uuid.uuid4().hex[:8]}"
    api = following.stack.api
    assert (await api.post("/v1/batch", json=batch_body(batch_id, 300))).status_code == 202
    assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202

    status = await following.batch_in(batch_id, "spellchecked", timeout_s=120)
    counts = status["counts"]
    assert counts["spellchecked"] == 300 and counts["total"] == 300, counts
    essays = status["essays"]["items"]
    assert all(e["state"] == "spellchecked" and e["requests"] == 1 for e in essays)
    assert all(e["corrected_text_storage_id"] and e["corrections_made"] for e in essays)

    async with following.batch_events() as events:
        ours = await _batch_events(events, batch_id, at_least=1)
    assert len(ours) == 1, ours
    event = ours[0]
    assert event.key == batch_id.encode()
    assert event.headers["event_type"] == BATCH_EVENT_TYPE.encode()
    body = event.body
    assert body["event"] == BATCH_EVENT_TYPE and body["round"] == 1
    assert body["entity_ref"] == {"entity_id": batch_id, "entity_type": "batch"}
    assert body["counts"] == {
        "spellchecked": 300,
        "spellcheck_failed": 0,
        "spellcheck_timed_out": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert body["system_metadata"]["correlation_id"] == status["correlation_id"]
    submission = await _first_run_id(following, batch_id)
    assert body["event_id"] == str(batch_event_id_for(batch_id, submission, 1))


async def test_duplicate_stale_and_malformed_results_change_nothing(following: Following):
    batch_id = f"dup-{uuid.uuid4().hex[:8]}"
    api = following.stack.api
    assert (await api.post("/v1/batch", json=batch_body(batch_id, 5))).status_code == 202
    assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    before = await following.batch_in(batch_id, "spellchecked", timeout_s=60)

    async with following.results_topic() as topic:
        await wait_until(
            lambda: _results_for(topic, batch_id, 5), timeout_s=30, what="the five results"
        )
        real = _of_batch(topic.messages, batch_id)
    first = real[0].body
    failed = {**first, "status": "spellcheck_failed", "storage_metadata": None}
    failed["system_metadata"] = {**first["system_metadata"], "error_info": "x" * 10_000}
    stale = {**first, "system_metadata": {**first["system_metadata"], "correlation_id": "old"}}
    stranger = {**first, "entity_ref": {**first["entity_ref"], "entity_id": "nobody"}}
    await following.publish_results(
        [m.value for m in real]  # every result again
        + [json.dumps(failed).encode(), json.dumps(stale).encode(), json.dumps(stranger).encode()]
        + [b"not json", b"{}", None, json.dumps({**first, "status": "maybe"}).encode()]
    )

    log = following.results.log_path

    async def unreadable_logged() -> bool:
        return log.read_text().count("unreadable result skipped") >= 4

    await wait_until(unreadable_logged, timeout_s=30, what="the malformed results to be skipped")

    # The batch is spellchecked and its chunk closed: the seven results it could take (five
    # repeats, a late failure, another submission's) reach no workflow, and are counted so.
    async def counted() -> bool:
        return _closed_results(log.read_text(), batch_id) == 7

    await wait_until(
        counted,
        timeout_s=30,
        what="the repeated results to be counted",
    )
    assert "unknown essay 'nobody'" in log.read_text()
    after = await following.batch(batch_id)
    assert after["counts"] == before["counts"]
    assert after["essays"]["items"] == before["essays"]["items"]
    assert following.results.alive and following.checker.alive


def _closed_results(log: str, batch_id: str) -> int:
    pattern = rf"(\d+) results for batch-{re.escape(batch_id)}/\S+, which has closed"
    return sum(int(n) for n in re.findall(pattern, log))


async def _results_for(topic, batch_id: str, count: int) -> bool:
    return len(_of_batch(await topic.read_for(0.5), batch_id)) >= count


def _of_batch(messages: list, batch_id: str) -> list:
    """The batch's results among the topic's messages (other tests put garbage there too)."""
    found = []
    for message in messages:
        try:
            parent = json.loads(message.value or b"null")["entity_ref"].get("parent_id")
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        if parent == batch_id:
            found.append(message)
    return found


async def _batch_events(events, batch_id: str, at_least: int) -> list:
    async def arrived() -> list | None:
        await events.read_for(0.5)
        ours = [m for m in events.messages if m.key == batch_id.encode()]
        return ours if len(ours) >= at_least else None

    await wait_until(arrived, timeout_s=30, what=f"the batch event of {batch_id}")
    await events.read_for(2)  # a second event would come right behind the first
    return [m for m in events.messages if m.key == batch_id.encode()]


async def _first_run_id(following: Following, batch_id: str) -> str:
    described = await following.stack.client.get_workflow_handle(f"batch-{batch_id}").describe()
    return described.raw_description.workflow_execution_info.first_run_id


async def test_results_wait_on_the_topic_while_the_consumer_is_away(following: Following):
    """Its offsets are committed only after the signals: what it had not taken is read by the
    next consumer of the group."""
    following.results.stop()
    batch_id = f"away-consumer-{uuid.uuid4().hex[:8]}"
    api = following.stack.api
    try:
        assert (await api.post("/v1/batch", json=batch_body(batch_id, 30))).status_code == 202
        assert (await api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
        async with following.results_topic() as topic:
            await wait_until(
                lambda: _results_for(topic, batch_id, 30), timeout_s=60, what="the results"
            )
        assert (await following.batch(batch_id))["counts"]["spellchecked"] == 0  # none taken
    finally:
        await following.start(following.results)
    status = await following.batch_in(batch_id, "spellchecked", timeout_s=60)
    assert status["counts"]["spellchecked"] == 30
