"""The metrics endpoints over HTTP: counters move by what was done, the backlog by what is owed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer

from telemetry.backlog import BACKLOG_ESSAYS, BACKLOG_OLDEST_AGE, measure_backlog
from tests.helpers import TopicReader, wait_until
from tests.observability.conftest import ObservedStack
from tests.observability.names import RESULTS_CONSUMER, alert_metrics
from tests.observability.reading import Scrape, scrape

REQUESTS = "huleedu_api_request_duration_seconds_count"
STARTS = "huleedu_api_workflow_starts_total"
STORED = "huleedu_content_stored_total"
PUBLISHED = "huleedu_events_published_total"
COMPLETED = "temporal_workflow_completed"  # one of the SDK's own
RESULTS = "huleedu_results_total"
LAG = "huleedu_results_lag_messages"


def delta(after: Scrape, before: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


async def post_essay(stack: ObservedStack, text: str, essay_id: str | None = None) -> str:
    body = {"text": text} | ({"essay_id": essay_id} if essay_id else {})
    response = await stack.api.post("/v1/trigger-spellcheck", json=body)
    assert response.status_code == 202, response.text
    return response.json()["essay_id"]


async def post_batch(stack: ObservedStack, count: int, trigger: bool = True) -> list[str]:
    batch_id = f"m-{uuid.uuid4().hex[:8]}"
    essays = [{"text": f"batch essay {n} {uuid.uuid4()}"} for n in range(count)]
    created = await stack.api.post("/v1/batch", json={"batch_id": batch_id, "essays": essays})
    assert created.status_code == 202, created.text
    if trigger:
        triggered = await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")
        assert triggered.status_code == 202, triggered.text
    return [batch_id, *created.json()["essay_ids"]]


async def test_metrics_are_served_apart_from_the_api(observed: ObservedStack) -> None:
    assert (await observed.api.get("/metrics")).status_code == 404
    api, worker = await scrape(observed.api_metrics), await scrape(observed.worker_metrics)
    assert {"huleedu_api_request_duration_seconds_bucket", "process_cpu_seconds_total"} <= (
        api.names()
    )
    # The SDK's own metrics and our gauges come out of the worker's one endpoint.
    assert any(name.startswith("temporal_") for name in worker.names())
    assert {BACKLOG_ESSAYS, BACKLOG_OLDEST_AGE} <= worker.names()


async def test_counters_move_by_what_was_done(observed: ObservedStack) -> None:
    api_before = await scrape(observed.api_metrics)
    worker_before = await scrape(observed.worker_metrics)

    first = f"metrics-{uuid.uuid4()}"
    singles = [await post_essay(observed, f"essay {n} {uuid.uuid4()}") for n in range(2)]
    singles.append(await post_essay(observed, "the first essay", essay_id=first))
    assert await post_essay(observed, "the first essay", essay_id=first) == first  # a repeat
    batch_id, *batched = await post_batch(observed, 4)

    async with TopicReader(observed.broker.address, observed.topic) as reader:
        await reader.read_keys({e.encode() for e in singles + batched}, timeout_s=60)

    async def worker_counted() -> Scrape | None:
        now = await scrape(observed.worker_metrics)
        published = delta(now, worker_before, PUBLISHED, outcome="published") >= 7
        # A workflow completes just after its event is acknowledged.
        completed = delta(now, worker_before, COMPLETED, workflow_type="EssayWorkflow") >= 3
        return now if published and completed else None

    worker_after = await wait_until(
        worker_counted, timeout_s=15, what="7 events and 3 essays completed"
    )
    api_after = await scrape(observed.api_metrics)

    def api(name: str, **labels: str) -> float:
        return delta(api_after, api_before, name, **labels)

    assert api(REQUESTS, route="/v1/trigger-spellcheck", method="POST", status="202") == 4
    assert api(REQUESTS, route="/v1/batch", method="POST", status="202") == 1
    assert api(REQUESTS, route="/v1/batch/<batch_id>/spellcheck", method="POST") == 1
    assert api(STARTS, workflow_type="EssayWorkflow", outcome="started") == 3
    assert api(STARTS, workflow_type="EssayWorkflow", outcome="already_started") == 1
    assert api(STARTS, workflow_type="BatchWorkflow", outcome="started") == 1
    assert api(STARTS, workflow_type="ChunkWorkflow", outcome="started") == 1
    assert api(STARTS, outcome="failed") == api(STARTS, outcome="unavailable") == 0

    def worker(name: str, **labels: str) -> float:
        return delta(worker_after, worker_before, name, **labels)

    assert worker(STORED, outcome="stored", activity_type="store_essay") == 3
    assert worker(STORED, outcome="stored", activity_type="store_chunk") == 4
    assert worker(STORED, outcome="rejected") == worker(STORED, outcome="unavailable") == 0
    assert worker(PUBLISHED, outcome="published", activity_type="publish_chunk") == 4
    assert worker(PUBLISHED, outcome="published") == 7
    assert worker(PUBLISHED, outcome="failed") == 0
    # The SDK's own metrics, from the same endpoint.
    assert worker(COMPLETED, workflow_type="EssayWorkflow") == 3
    # Every metric the alert rules watch is really served (the results consumer's: below).
    assert alert_metrics() - RESULTS_CONSUMER <= worker_after.names() | api_after.names()

    # Route templates only: no essay or batch id became a label.
    async with httpx.AsyncClient() as http:
        exposition = (await http.get(observed.api_metrics)).text
    assert not any(i in exposition for i in [batch_id, first, *singles])


async def test_the_results_consumer_counts_what_it_cannot_read(observed: ObservedStack) -> None:
    before = await scrape(observed.results_metrics)
    producer = AIOKafkaProducer(bootstrap_servers=observed.broker.address)
    await producer.start()
    try:
        await producer.send_and_wait(observed.results_topic, b"not a result", b"someone")
    finally:
        await producer.stop()

    async def counted() -> Scrape | None:
        now = await scrape(observed.results_metrics)
        skipped = delta(now, before, RESULTS, outcome="unreadable") == 1
        # Committed once skipped: nothing is left on the topic.
        return now if skipped and now.value(LAG) == 0 else None

    after = await wait_until(counted, timeout_s=30, what="the unreadable result counted")
    assert delta(after, before, RESULTS, outcome="delivered") == 0
    # All of its metrics are served: those the alert rules watch among them.
    assert after.names() >= RESULTS_CONSUMER


async def test_the_backlog_rises_while_the_broker_is_down_and_falls_to_zero(
    observed: ObservedStack,
) -> None:
    async def backlog(expected: float) -> Scrape | None:
        now = await scrape(observed.worker_metrics)
        return now if now.value(BACKLOG_ESSAYS) == expected else None

    await wait_until(lambda: backlog(0), timeout_s=30, what="an empty backlog to start with")
    # Waiting for its teacher's trigger, this batch is owed nothing yet: it never counts.
    waiting_batch, *_ = await post_batch(observed, 2, trigger=False)
    worker_before = await scrape(observed.worker_metrics)

    observed.broker.stop()
    try:
        for n in range(3):
            await post_essay(observed, f"outage essay {n} {uuid.uuid4()}")
        await post_batch(observed, 2)

        async def owed_and_failing() -> Scrape | None:
            now = await backlog(5)
            failing = now and now.value(PUBLISHED, outcome="failed") > worker_before.value(
                PUBLISHED, outcome="failed"
            )
            return now if failing else None

        during = await wait_until(
            owed_and_failing, timeout_s=45, what="a backlog of 5 and failed sends"
        )
        assert during.value(BACKLOG_OLDEST_AGE) > 0
        # Any worker, or this test, reading the visibility store measures the same backlog.
        measured = await measure_backlog(
            observed.client, observed.task_queue, observed.batch_task_queue, datetime.now(UTC)
        )
        assert measured.essays == 5
    finally:
        await observed.broker.start()

    after = await wait_until(lambda: backlog(0), timeout_s=60, what="the backlog back to 0")
    assert after.value(BACKLOG_OLDEST_AGE) == 0
    cancelled = await observed.api.post(f"/v1/batch/{waiting_batch}/cancel")
    assert cancelled.status_code == 202
