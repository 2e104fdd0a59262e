"""B3: a class-sized batch, first POST to last event read, in essays per second, beside
(a) the naive design, one workflow per essay with one ordinary activity per step
(bench/naive_workflow.py, on a worker of its own), and (b) a direct
ceiling: the same content-store POSTs and Kafka sends in a loop in this process, no Temporal.

While our arm runs, B4's probe polls the batch's status (when B4 is asked for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer

from activities.kafka import KafkaPublisher
from bench import b4_status, stats
from bench.harness import Harness
from bench.load import Outcome, closed_loop
from bench.naive_workflow import NaiveEssayWorkflow
from contracts.essay import EssayInput
from contracts.events import SpellcheckRequestedEvent
from worker import build_http_client

ARM_TIMEOUT_S = 900.0
JSON = {"Content-Type": "application/json"}
PAGE_TIMEOUT_S = 120.0


def _summary(count: int, began: float, received: dict[str, float]) -> dict:
    elapsed = max(received.values()) - began
    return {"essays": count, "elapsed_s": elapsed, "essays_per_s": count / elapsed}


async def _post(h: Harness, path: str, body: bytes | None = None) -> dict:
    response = await h.http.post(
        f"{h.stack.url('api')}{path}",
        body=body,
        headers=JSON if body is not None else None,
        timeout_s=PAGE_TIMEOUT_S,
    )
    if response.status != 202:
        raise RuntimeError(f"POST {path}: {response.status} {response.text[:300]}")
    return response.json()


async def ours(h: Harness, rep: int, with_status: bool) -> dict:
    n, page = h.cfg.batch_essays, h.cfg.page
    batch_id = h.ids.name("b3", rep)
    # Encoded before the clock starts: 750 KB of JSON per page is work of the load generator's,
    # not of the service it measures.
    pages = [
        json.dumps(
            {"essays": [{"text": h.text(i)} for i in range(start, min(n, start + page))]}
            | ({"batch_id": batch_id} if start == 0 else {})
        ).encode()
        for start in range(0, n, page)
    ]
    async with b4_status.status_probe(h) if with_status else contextlib.nullcontext() as probe:
        return await _ours(h, rep, batch_id, pages, probe)


async def _ours(
    h: Harness, rep: int, batch_id: str, pages: list[bytes], probe: b4_status.StatusProbe | None
) -> dict:
    n = h.cfg.batch_essays
    result: dict = {}
    if probe is not None:
        idle_batch = await b4_status.finished_batch(h, rep)
        result["status_idle"] = await probe.poll(idle_batch)
    stop = asyncio.Event()
    poller: asyncio.Task[dict] | None = None
    essay_ids: list[str] = []
    began = time.monotonic()
    try:
        for number, page_body in enumerate(pages):
            if number == 0:
                body = await _post(h, "/v1/batch", page_body)
                if probe is not None:  # the batch exists from here on
                    poller = asyncio.create_task(probe.poll(batch_id, stop))
            else:
                body = await _post(h, f"/v1/batch/{batch_id}/essays", page_body)
            essay_ids += body["essay_ids"]
        accepted_s = time.monotonic() - began
        await _post(h, f"/v1/batch/{batch_id}/spellcheck")
        received = await h.clocks["ours"].wait_for(essay_ids, ARM_TIMEOUT_S, "B3's batch")
    finally:
        stop.set()
        if poller is not None:
            result["status_loaded"] = await poller
    result.update(_summary(n, began, received), accepted_s=accepted_s, batch_id=batch_id)
    # The batch closes once its chunks have reported: let it, so the next arm starts idle.
    await b4_status.settled(h, batch_id)
    h.stack.check_alive()
    return result


async def naive(h: Harness, rep: int) -> dict:
    """One NaiveEssayWorkflow per essay (ordinary activities), started straight with the SDK
    at the same concurrency, on the naive worker's queue."""

    async def call(i: int) -> Outcome:
        essay_id = h.ids.name("b3n", rep, i)
        await h.temporal.start_workflow(
            NaiveEssayWorkflow.run,
            EssayInput(essay_id=essay_id, text=h.text(i), correlation_id="bench-naive"),
            id=f"naive-{essay_id}",
            task_queue=h.stack.naive_task_queue,
        )
        return Outcome(True, 202, essay_id)

    n = h.cfg.naive_essays
    run = await closed_loop(n, h.cfg.concurrency, call, timeout_s=ARM_TIMEOUT_S)
    if len(run.ok) != n:
        raise RuntimeError(f"B3 naive arm: {n - len(run.ok)} of {n} refused: {run.errors()}")
    received = await h.clocks["ours"].wait_for([s.value for s in run.ok], ARM_TIMEOUT_S, "naive")
    h.stack.check_alive()
    return _summary(n, run.began, received)


async def ceiling(
    h: Harness, rep: int, http: httpx.AsyncClient, producer: AIOKafkaProducer
) -> dict:
    n = h.cfg.batch_essays
    topic = h.stack.topics["ceiling"]
    batch_id = h.ids.name("b3c", rep)
    texts = [h.text(i) for i in range(n)]
    essay_ids = [h.ids.name("b3c", rep, i) for i in range(n)]
    correlation_id = str(uuid.uuid4())
    sends: list[asyncio.Task[object]] = []

    async def store(i: int) -> str:
        # The worker's request: same client settings, headers and body.
        response = await http.post(
            h.stack.content_url,
            content=texts[i].encode(),
            headers={
                "Content-Type": "text/plain; charset=utf-8",
                "X-Correlation-ID": correlation_id,
            },
        )
        response.raise_for_status()
        return response.json()["storage_id"]

    async def storer(indices) -> None:
        # As many storers as the worker's content concurrency; each hands its event to the
        # producer and moves on, so sends are batched by the producer as in publish_chunk.
        for i in indices:
            event = SpellcheckRequestedEvent.for_essay(
                essay_id=essay_ids[i],
                text_storage_id=await store(i),
                correlation_id=correlation_id,
                timestamp=datetime.now(UTC),
                submission=correlation_id,
                batch_id=batch_id,
            )
            sends.append(
                asyncio.create_task(
                    producer.send_and_wait(
                        topic, value=event.to_bytes(), key=event.key, headers=event.headers()
                    )
                )
            )

    indices = iter(range(n))
    began = time.monotonic()
    async with asyncio.timeout(ARM_TIMEOUT_S):
        await asyncio.gather(*(storer(indices) for _ in range(h.cfg.content_concurrency)))
        await asyncio.gather(*sends)
    received = await h.clocks["ceiling"].wait_for(essay_ids, ARM_TIMEOUT_S, "the ceiling")
    return _summary(n, began, received)


async def run(h: Harness, out: dict, arms: tuple[str, ...], with_status: bool) -> None:
    """`arms` from ("ours", "naive", "ceiling"); the order alternates between repetitions."""
    settings = h.stack.settings(topic=h.stack.topics["ceiling"])
    publisher = KafkaPublisher(settings)  # the worker's producer settings (acks="all")
    reps = out["reps"] = []
    async with build_http_client(settings) as http:
        try:
            producer = await publisher.producer()
            for rep in range(h.cfg.repeat):
                order = arms if rep % 2 == 0 else tuple(reversed(arms))
                result: dict = {"order": list(order)}
                for arm in order:
                    if arm == "ours":
                        result[arm] = await ours(h, rep, with_status)
                    elif arm == "naive":
                        result[arm] = await naive(h, rep)
                    else:
                        result[arm] = await ceiling(h, rep, http, producer)
                _ratios(result)
                reps.append(result)
                print(f"  B3 rep {rep + 1}: " + _line(result), flush=True)
        finally:
            await publisher.close()


def _ratios(result: dict) -> None:
    rate = {
        arm: result[arm]["essays_per_s"] for arm in ("ours", "naive", "ceiling") if arm in result
    }
    if "ours" in rate and "naive" in rate:
        result["naive_ratio"] = stats.ratio(rate["ours"], rate["naive"])
    if "ours" in rate and "ceiling" in rate:
        result["ceiling_ratio"] = stats.ratio(rate["ours"], rate["ceiling"])
    if "ours" in result and "status_loaded" in result["ours"]:
        loaded, idle = result["ours"]["status_loaded"], result["ours"]["status_idle"]
        result["status_ratio"] = stats.ratio(loaded["p99_ms"], idle["p99_ms"])


def _line(result: dict) -> str:
    parts = [
        f"{arm} {result[arm]['essays_per_s']:.0f}/s ({result[arm]['elapsed_s']:.1f} s)"
        for arm in ("ours", "naive", "ceiling")
        if arm in result
    ]
    if "status_ratio" in result:
        loaded, idle = result["ours"]["status_loaded"], result["ours"]["status_idle"]
        parts.append(f"status p99 {loaded['p99_ms']:.0f} vs idle {idle['p99_ms']:.0f} ms")
    return ", ".join(parts)
