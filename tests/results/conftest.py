"""A stack that follows essays to their results: the API and worker with results followed,
the embedded spell checker and the results consumer as processes of their own (a test stops
and starts them), all on the session's servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from devstack.components import REPO_ROOT, ManagedProcess, results_argv, spellchecker_argv
from tests.helpers import TopicReader, wait_until
from tests.stack import Stack, running_stack


@dataclass
class Following:
    stack: Stack
    checker: ManagedProcess
    results: ManagedProcess

    async def start(self, process: ManagedProcess) -> None:
        """Start the spell checker or the results consumer; wait until it consumes."""
        before = _text(process.log_path).count("consuming")
        process.start()

        async def consuming() -> bool:
            assert process.alive, _text(process.log_path)[-2000:]
            return _text(process.log_path).count("consuming") > before

        await wait_until(consuming, timeout_s=60, what=f"the {process.name} to consume")

    async def publish_results(self, values: list[bytes | None], key: bytes = b"x") -> None:
        """Put raw messages on the results topic, as any spell checker could."""
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.broker.address)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(self.stack.settings.kafka_results_topic, value, key)
        finally:
            await producer.stop()

    def batch_events(self) -> TopicReader:
        return TopicReader(self.stack.broker.address, self.stack.settings.kafka_batch_topic)

    def results_topic(self) -> TopicReader:
        return TopicReader(self.stack.broker.address, self.stack.settings.kafka_results_topic)

    async def essay(self, essay_id: str) -> dict:
        answer = await self.stack.api.get(f"/v1/essays/{essay_id}/status")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def batch(self, batch_id: str, limit: int = 100) -> dict:
        answer = await self.stack.api.get(f"/v1/batch/{batch_id}/status?limit={limit}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def batch_in(self, batch_id: str, state: str, timeout_s: float) -> dict:
        async def reached() -> dict | None:
            status = await self.batch(batch_id)
            return status if status["state"] == state else None

        return await wait_until(reached, timeout_s=timeout_s, what=f"{batch_id} {state}")


def _text(path: Path | None) -> str:
    return path.read_text(errors="replace") if path and path.exists() else ""


@pytest.fixture(scope="module")
def following_overrides() -> dict[str, object]:
    """Settings a test module may change: how long a request waits for its result."""
    return {"spellcheck_timeout_s": 60, "spellcheck_max_requests": 3}


@pytest.fixture(scope="module")
async def following(
    dev_env, broker, content_store, tmp_path_factory, following_overrides
) -> AsyncIterator[Following]:
    async with running_stack(
        dev_env,
        broker,
        content_store,
        tmp_path_factory,
        log_level="INFO",
        results_metrics_port=0,
        **following_overrides,
    ) as stack:
        env = {**stack.settings.as_env(), "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "text"}
        logs = tmp_path_factory.mktemp("following")

        def process(name: str, argv: list[str]) -> ManagedProcess:
            return ManagedProcess(name, argv, env=env, cwd=REPO_ROOT, log_path=logs / f"{name}.log")

        found = Following(
            stack, process("spellchecker", spellchecker_argv()), process("results", results_argv())
        )
        await found.start(found.results)
        await found.start(found.checker)
        try:
            yield found
        finally:
            found.checker.stop()
            found.results.stop()


def batch_body(batch_id: str, count: int) -> dict:
    return {
        "batch_id": batch_id,
        "essays": [
            {"essay_id": f"e{i}", "text": f"Thiss essay {i} has a speling mistake."}
            for i in range(count)
        ],
    }
