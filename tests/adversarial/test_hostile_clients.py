"""Clients as an attacker would be: a stateful property-based run on the real stack (API under
Hypercorn with API keys, worker, dev server, broker, content store).

Two clients create batches and pages with ids from a small hostile alphabet (`-c1` suffixes,
`essay-`/`batch-` prefixes, 64 characters, dots, each other's ids), post single essays,
trigger, cancel, and send any request again with or without its Idempotency-Key. After each
run every batch its owner left open is triggered, and then:
- every essay answered 202 has exactly one distinct event_id on the topic, or its batch was
  cancelled by its own owner (it is `cancelled` or published), or it is `failed` with a reason;
- no client ever read or changed another's batch or essay (404 for them), and no request got
  a 500, nor a 503 but in the minute after a worker kill (then with Retry-After, and the client
  sends it again, as docs/api.md asks);
- each batch's status counts equal what the topic holds for it.

`make test` runs a bounded, seeded run; `make test-adversarial` a fuller one
(ADVERSARIAL_EXAMPLES, ADVERSARIAL_STEPS) that also SIGKILLs and restarts the worker
(ADVERSARIAL_WORKER_KILLS=1; the worker then runs as a process of its own).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.helpers import TopicReader, wait_until
from tests.stack import Stack, running_stack

EXAMPLES = int(os.environ.get("ADVERSARIAL_EXAMPLES", "6"))
STEPS = int(os.environ.get("ADVERSARIAL_STEPS", "30"))
WORKER_KILLS = os.environ.get("ADVERSARIAL_WORKER_KILLS") == "1"
# After a kill, the new worker has taken over the old one's tasks within this.
TAKEOVER_S = 60
KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdefgh"}
# Suffixes of ids (each run prefixes its own token): another batch's chunk as it once was named,
# our own workflow-id prefixes, dots, and the longest id there is.
BATCH_IDS = ["class", "class-c1", "class-c2", "batch-class", "essay-x", "a.b", "z" * 57]
ESSAY_IDS = [None, "anna-1", "anna-1-c1", "essay-anna", "batch-x", "e.1", "y" * 57]
FINAL = {"completed", "cancelled", "failed"}


@dataclass
class Batch:
    owner: str
    essays: set[str] = field(default_factory=set)
    cancelled: bool = False  # by its owner, answered 202
    triggered: bool = False


class HostileClients(RuleBasedStateMachine):
    """The model: what each client was answered 202 for."""

    stack: Stack
    loop: asyncio.AbstractEventLoop
    kills = 0  # over the whole run
    unavailable = 0  # 503 answers, each followed by the same request

    def __init__(self) -> None:
        super().__init__()
        self.token = uuid.uuid4().hex[:6]
        self.http = httpx.Client(base_url=str(self.stack.api.base_url), timeout=60)
        self.batches: dict[str, Batch] = {}
        self.singles: dict[str, str] = {}  # essay id -> owner
        self.last: tuple[str, str, dict, dict] | None = None  # method, path, json, headers
        self.killed_at: float | None = None  # when the worker was last killed
        self.repeated_after_503 = False  # whether the last request's answer followed a 503

    # -- requests -------------------------------------------------------------------------

    def send(self, client: str, method: str, path: str, body=None, key: str | None = None):
        headers = {"Authorization": f"Bearer {KEYS[client]}"}
        if key:
            headers["Idempotency-Key"] = key
        self.last = (method, path, body, headers)
        return self.request(method, path, body, headers)

    def request(self, method: str, path: str, body, headers: dict):
        """The request, sent again after each 503 (only ever soon after a worker kill)."""
        self.repeated_after_503 = False
        while True:
            response = self.http.request(method, path, json=body, headers=headers)
            if response.status_code != 503:
                assert response.status_code < 500, (
                    method,
                    path,
                    response.status_code,
                    response.text,
                )
                return response
            in_takeover = (
                self.killed_at is not None and time.monotonic() - self.killed_at < TAKEOVER_S
            )
            assert in_takeover, (method, path, response.text)
            assert response.headers.get("Retry-After"), response.headers
            self.repeated_after_503 = True
            HostileClients.unavailable += 1
            time.sleep(float(response.headers["Retry-After"]))  # the client's backoff, as asked

    def batch_id(self, suffix: str) -> str:
        return f"{self.token}{suffix}"

    @rule(
        client=st.sampled_from(sorted(KEYS)),
        suffix=st.sampled_from(BATCH_IDS),
        ids=st.lists(st.sampled_from(ESSAY_IDS), min_size=1, max_size=3),
        keyed=st.booleans(),
    )
    def create_batch(self, client, suffix, ids, keyed) -> None:
        batch_id = self.batch_id(suffix)
        essays = [{"text": f"{client} {batch_id} {n}"} for n in range(len(ids))]
        for essay, essay_id in zip(essays, ids, strict=True):
            if essay_id:
                essay["essay_id"] = essay_id
        body = {"batch_id": batch_id, "essays": essays}
        response = self.send(client, "POST", "/v1/batch", body, "k" + batch_id if keyed else None)
        known = self.batches.get(batch_id)
        if response.status_code == 202:
            assert known is None or known.owner == client, "another client's batch was taken"
            batch = self.batches.setdefault(batch_id, Batch(client))
            batch.essays |= set(response.json()["essay_ids"])
        else:
            assert response.status_code in (400, 409), response.text

    @rule(
        client=st.sampled_from(sorted(KEYS)),
        suffix=st.sampled_from(BATCH_IDS),
        essay_id=st.sampled_from(ESSAY_IDS),
    )
    def add_page(self, client, suffix, essay_id) -> None:
        batch_id = self.batch_id(suffix)
        essay = {"text": f"page {uuid.uuid4().hex}"} | ({"essay_id": essay_id} if essay_id else {})
        response = self.send(client, "POST", f"/v1/batch/{batch_id}/essays", {"essays": [essay]})
        batch = self.batches.get(batch_id)
        if batch is None or batch.owner != client:
            assert response.status_code == 404, response.text
        elif response.status_code == 202:
            batch.essays |= set(response.json()["essay_ids"])
        else:
            assert response.status_code == 409, response.text

    @rule(
        client=st.sampled_from(sorted(KEYS)),
        essay_id=st.sampled_from(ESSAY_IDS),
        keyed=st.booleans(),
    )
    def post_essay(self, client, essay_id, keyed) -> None:
        body = {"text": f"single {uuid.uuid4().hex}"}
        if essay_id:
            body["essay_id"] = f"{self.token}{essay_id}"
        key = f"s-{self.token}-{essay_id}" if keyed else None
        response = self.send(client, "POST", "/v1/trigger-spellcheck", body, key)
        if response.status_code == 202:
            owner = self.singles.setdefault(response.json()["essay_id"], client)
            assert owner == client, "another client's essay was answered 202"
        else:
            assert response.status_code == 409, response.text

    @rule(
        client=st.sampled_from(sorted(KEYS)),
        suffix=st.sampled_from(BATCH_IDS),
        action=st.sampled_from(["spellcheck", "cancel"]),
        keyed=st.booleans(),
    )
    def close(self, client, suffix, action, keyed) -> None:
        batch_id = self.batch_id(suffix)
        key = f"{action}-{batch_id}" if keyed else None
        response = self.send(client, "POST", f"/v1/batch/{batch_id}/{action}", None, key)
        self.note_close(client, batch_id, action, response)

    def note_close(self, client: str, batch_id: str, action: str, response) -> None:
        batch = self.batches.get(batch_id)
        if batch is None or batch.owner != client:
            assert response.status_code == 404, response.text
        elif response.status_code == 202:
            if action == "cancel":
                batch.cancelled = True
            else:
                batch.triggered = True
        elif self.repeated_after_503:
            # The attempt answered 503 may have closed the batch: its status says how.
            assert response.status_code == 409, response.text
            status = self.send(client, "GET", f"/v1/batch/{batch_id}/status").json()
            batch.cancelled |= status["cancelled_at"] is not None
            batch.triggered |= status["triggered_at"] is not None
        else:
            assert response.status_code == 409, response.text

    @rule()
    def repeat_last(self) -> None:
        """The last request again, as a client that never saw its answer would send it."""
        if self.last is None:
            return
        method, path, body, headers = self.last
        self.request(method, path, body, headers)

    @precondition(lambda self: WORKER_KILLS)
    @rule()
    def kill_worker(self) -> None:
        """SIGKILL the worker wherever it is, and start another."""
        asyncio.run_coroutine_threadsafe(self.stack.kill_worker(), self.loop).result()
        self.killed_at = time.monotonic()
        HostileClients.kills += 1

    @invariant()
    def strangers_see_nothing(self) -> None:
        for batch_id, batch in list(self.batches.items())[-2:]:
            stranger = next(c for c in KEYS if c != batch.owner)
            headers = {"Authorization": f"Bearer {KEYS[stranger]}"}
            answer = self.http.get(f"/v1/batch/{batch_id}/status", headers=headers)
            assert answer.status_code == 404, answer.text

    # -- the verdict ----------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            self.settle()
        finally:
            self.http.close()

    def settle(self) -> None:
        for batch_id, batch in self.batches.items():
            if not (batch.cancelled or batch.triggered):
                self.note_close(
                    batch.owner,
                    batch_id,
                    "spellcheck",
                    self.send(batch.owner, "POST", f"/v1/batch/{batch_id}/spellcheck"),
                )
        finals = {batch_id: self.final_status(batch_id) for batch_id in self.batches}
        singles = {e: self.final_single(e, owner) for e, owner in self.singles.items()}
        items = {
            batch_id: {e["essay_id"]: e for e in self.all_items(batch_id, batch.owner)}
            for batch_id, batch in self.batches.items()
        }
        # What must be on the topic: every essay its status calls published.
        keys = {
            essay_id.encode()
            for states in items.values()
            for essay_id, item in states.items()
            if item["state"] == "published"
        } | {e.encode() for e in singles if singles[e]["state"] == "published"}
        events = asyncio.run_coroutine_threadsafe(self.read_topic(keys), self.loop).result()
        for essay_id, status in singles.items():
            ids = events.get((None, essay_id), set())
            if status["state"] == "published":
                assert len(ids) == 1, (essay_id, ids)
            else:
                assert status["state"] == "failed" and status["error"], status
        for batch_id, batch in self.batches.items():
            body = finals[batch_id]
            states = items[batch_id]
            assert set(states) == batch.essays, (batch_id, set(states) ^ batch.essays)
            published = 0
            for essay_id, item in states.items():
                ids = events.get((batch_id, essay_id), set())
                if item["state"] == "published":
                    assert len(ids) == 1 and item["event_id"] in ids, (batch_id, item, ids)
                    published += 1
                elif item["state"] == "cancelled":
                    assert batch.cancelled and not ids, (batch_id, item)
                else:
                    assert item["state"] == "failed" and item["error"], item
            assert body["counts"]["published"] == published, (batch_id, body["counts"])

    def final_status(self, batch_id: str) -> dict:
        owner = self.batches[batch_id].owner
        headers = {"Authorization": f"Bearer {KEYS[owner]}"}

        async def settled():
            answer = await self.stack.api.get(f"/v1/batch/{batch_id}/status", headers=headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            return body if body["state"] in FINAL else None

        coro = wait_until(settled, timeout_s=90, what=f"batch {batch_id} to end")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def final_single(self, essay_id: str, owner: str) -> dict:
        headers = {"Authorization": f"Bearer {KEYS[owner]}"}

        async def settled():
            answer = await self.stack.api.get(f"/v1/essays/{essay_id}/status", headers=headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            return body if body["state"] in ("published", "failed") else None

        coro = wait_until(settled, timeout_s=90, what=f"essay {essay_id} to end")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def all_items(self, batch_id: str, owner: str) -> list[dict]:
        headers = {"Authorization": f"Bearer {KEYS[owner]}"}
        items, offset = [], 0
        while offset is not None:
            answer = self.http.get(
                f"/v1/batch/{batch_id}/status",
                params={"offset": offset, "limit": 100},
                headers=headers,
            )
            assert answer.status_code == 200, answer.text
            items += answer.json()["essays"]["items"]
            offset = answer.json()["essays"]["next_offset"]
        return items

    async def read_topic(self, keys: set[bytes]) -> dict[tuple[str | None, str], set[str]]:
        """(batch id, essay id) -> the distinct event ids the topic holds for it."""
        settings_ = self.stack.settings
        async with TopicReader(settings_.kafka_bootstrap_servers, settings_.kafka_topic) as reader:
            await reader.read_keys(keys, timeout_s=60)
        events: dict[tuple[str | None, str], set[str]] = {}
        for message in reader.messages:
            ref = message.body["entity_ref"]
            events.setdefault((ref.get("parent_id"), ref["entity_id"]), set()).add(
                message.body["event_id"]
            )
        return events


@pytest.fixture(scope="module")
async def hostile_stack(dev_env, broker, content_store, tmp_path_factory) -> AsyncIterator[Stack]:
    keys = ",".join(f"{name}:{key}" for name, key in KEYS.items())
    async with running_stack(
        dev_env,
        broker,
        content_store,
        tmp_path_factory,
        worker_process=WORKER_KILLS,
        api_keys=keys,
        batch_check_s=1,
    ) as stack:
        yield stack


async def test_hostile_clients_lose_no_essay_and_touch_no_one_elses(hostile_stack: Stack) -> None:
    HostileClients.stack = hostile_stack
    HostileClients.loop = asyncio.get_running_loop()
    run = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    # The machine's requests block; the worker runs on this loop, so the machine gets a thread.
    await asyncio.to_thread(run_state_machine_as_test, HostileClients, settings=run)
    print(
        f"hostile clients: {EXAMPLES} runs of {STEPS} steps, {HostileClients.kills} worker "
        f"kills, {HostileClients.unavailable} answers 503 and repeated"
    )
