"""Read the spell checker's results and hand each to the workflow that waits for it.

Offsets are committed only after Temporal has accepted every signal a poll's messages mean
(a signal is durable once the server answers it), so a consumer killed mid-way reads them
again; the workflows ignore what they already took, counting it as a duplicate. A message that
does not parse, or names an essay nobody waits for, is logged and counted, then committed: it
can never become readable. Temporal unreachable: the same messages are tried again, with
backoff, and nothing is committed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.kafka import kafka_client_options
from contracts.ids import ESSAY_WORKFLOW, chunk_workflow_id, essay_workflow_id
from contracts.results import (
    MAX_RESULTS_PER_SIGNAL,
    RESULTS_SIGNAL,
    ResultsDelivery,
    SpellcheckOutcome,
    UnreadableResult,
    parse_result,
)
from results.index import ChunkFinder
from settings import Settings
from temporal_client import describe_if_any

log = logging.getLogger("results")

RESULTS = Counter(
    "huleedu_results",
    "Spellcheck results read, by what became of them: delivered (to a waiting workflow), "
    "unreadable (not a result), unknown (no such essay) or closed (its workflow had ended).",
    ["outcome"],
)
LAG = Gauge(
    "huleedu_results_lag_messages",
    "Results on the topic not yet committed by the consumer group, over all partitions.",
)
for _outcome in ("delivered", "unreadable", "unknown", "closed"):
    RESULTS.labels(_outcome)  # each outcome at 0 from the start, so an increase shows
POLL_RECORDS = 500
LINGER_S = 1.0  # messages a poll takes: one signal per chunk (or essay) among them
BACKOFF_S = (0.5, 1, 2, 5, 10, 30)  # Temporal unreachable: wait this long before trying again
# The ids a client can give (api/http/bodies.py): no workflow of ours has another.
ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class Target:
    workflow_id: str
    essay_workflow: bool  # a single essay's (its type is checked before the first signal)


class ResultsRouter:
    """Turns a poll's messages into signals, one per workflow (split at 125 results)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.finder = ChunkFinder(client)

    async def deliver(self, records: list[ConsumerRecord]) -> None:
        """Signal every result in `records` to its workflow; raises while Temporal is away."""
        grouped: dict[Target, list[SpellcheckOutcome]] = defaultdict(list)
        for record in records:
            try:
                result = parse_result(record.value)
            except UnreadableResult as exc:
                RESULTS.labels("unreadable").inc()
                log.warning(
                    "unreadable result skipped at %s/%d offset %d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc,
                )
                continue
            target = await self._target(result.entity_ref.parent_id, result.essay_id)
            if target is None:
                RESULTS.labels("unknown").inc()
                log.warning(
                    "result for an unknown essay %r (batch %r) skipped",
                    result.essay_id[:64],
                    (result.entity_ref.parent_id or "")[:64],
                )
                continue
            grouped[target].append(result.outcome())
        for target, outcomes in grouped.items():
            for start in range(0, len(outcomes), MAX_RESULTS_PER_SIGNAL):
                await self._signal(target, outcomes[start : start + MAX_RESULTS_PER_SIGNAL])

    async def _target(self, batch_id: str | None, essay_id: str) -> Target | None:
        if not ID.fullmatch(essay_id) or not (batch_id is None or ID.fullmatch(batch_id)):
            return None
        if batch_id is None:
            return Target(essay_workflow_id(essay_id), essay_workflow=True)
        key = await self.finder.chunk_of(batch_id, essay_id)
        return None if key is None else Target(chunk_workflow_id(batch_id, key), False)

    async def _signal(self, target: Target, outcomes: list[SpellcheckOutcome]) -> None:
        if target.essay_workflow:
            found = await describe_if_any(self._client, target.workflow_id)
            if found is None or found.workflow_type != ESSAY_WORKFLOW:
                RESULTS.labels("unknown").inc(len(outcomes))
                return
        try:
            await self._client.get_workflow_handle(target.workflow_id).signal(
                RESULTS_SIGNAL, ResultsDelivery(results=outcomes)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # Closed (or gone from retention): nothing waits for these any more.
            RESULTS.labels("closed").inc(len(outcomes))
            log.warning("%d results for %s, which has closed", len(outcomes), target.workflow_id)
            return
        RESULTS.labels("delivered").inc(len(outcomes))


async def consume(settings: Settings, client: Client, stop: asyncio.Event) -> None:
    """Until `stop`: poll, deliver, commit."""
    consumer = AIOKafkaConsumer(
        settings.kafka_results_topic,
        **kafka_client_options(settings),
        group_id=settings.kafka_results_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    router = ResultsRouter(client)
    committed: dict[TopicPartition, int] = {}
    await _start_when_reachable(consumer, stop)
    log.info("consuming %s as group %s", settings.kafka_results_topic, settings.kafka_results_group)
    try:
        while not stop.is_set():
            polled = await _poll(consumer)
            records = [r for batch in polled.values() for r in batch]
            if records:
                if not await _deliver_until_accepted(router, records, stop, consumer, committed):
                    return  # stopping: the uncommitted messages are read again
                offsets = {tp: batch[-1].offset + 1 for tp, batch in polled.items() if batch}
                await consumer.commit(offsets)
                committed.update(offsets)
            await _measure_lag(consumer, committed)
    finally:
        await consumer.stop()


async def _poll(consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
    """What arrives within LINGER_S once something has (at most POLL_RECORDS): results trickling
    in from a spell checker then reach a chunk a handful per signal, not one at a time."""
    polled: dict[TopicPartition, list[ConsumerRecord]] = {}
    taken = 0
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    while taken < POLL_RECORDS:
        wait_ms = 500 if deadline is None else int((deadline - loop.time()) * 1000)
        if wait_ms <= 0:
            break
        batch = await consumer.getmany(timeout_ms=wait_ms, max_records=POLL_RECORDS - taken)
        if not batch and deadline is None:
            break  # nothing for half a second: an empty poll (the lag is measured meanwhile)
        for tp, records in batch.items():
            polled.setdefault(tp, []).extend(records)
            taken += len(records)
        if deadline is None:
            deadline = loop.time() + LINGER_S
    return polled


async def _deliver_until_accepted(
    router: ResultsRouter,
    records: list[ConsumerRecord],
    stop: asyncio.Event,
    consumer: AIOKafkaConsumer,
    committed: dict[TopicPartition, int],
) -> bool:
    attempt = 0
    while not stop.is_set():
        try:
            await router.deliver(records)
            return True
        except RPCError as exc:
            await _measure_lag(consumer, committed)  # the alert must see the lag grow
            wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            log.warning("Temporal did not take the results (%s); again in %gs", exc.status, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
    return False


async def _measure_lag(consumer: AIOKafkaConsumer, committed: dict[TopicPartition, int]) -> None:
    lag = 0
    for tp in consumer.assignment():
        if tp not in committed:  # committed before this process: asked once
            committed[tp] = await consumer.committed(tp) or 0
        end = consumer.highwater(tp)
        if end is not None:
            lag += max(end - committed[tp], 0)
    LAG.set(lag)


async def _start_when_reachable(consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
    attempt = 0
    while True:
        try:
            await consumer.start()
            return
        except KafkaError as exc:
            if stop.is_set():
                raise
            wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            log.warning("the broker is not reachable yet (%s); again in %gs", exc, wait)
            await asyncio.sleep(wait)
