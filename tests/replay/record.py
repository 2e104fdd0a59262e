"""Re-record the replay histories from real runs: `make histories`.

Starts a dev server, the broker and the content store on free ports, runs each scenario through
the real worker (real activities), and writes each run's history under histories/.
"""

from __future__ import annotations

import asyncio
import contextlib
import sysconfig
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from devstack.components import (
    ManagedProcess,
    async_wait_for_port,
    broker_argv,
    content_store_argv,
    free_port,
)
from settings import Settings
from worker import build_http_client, build_worker
from workflows.essay import EssayWorkflow
from workflows.models import EssayInput

HISTORIES = Path(__file__).with_name("histories")
SCRIPTS = Path(sysconfig.get_path("scripts"))

# name -> essay input; ids are fixed so re-recorded files differ only where behaviour does.
SCENARIOS = {
    "essay_published": EssayInput(
        essay_id="replay-essay-1", text="Helo wrold", correlation_id="corr-replay-1"
    ),
    # The content store rejects an empty body with 400: the non-retryable path.
    "essay_rejected": EssayInput(
        essay_id="replay-essay-2", text="", correlation_id="corr-replay-2"
    ),
}


async def record(client: Client, settings: Settings) -> None:
    publisher = KafkaPublisher(settings)
    async with build_http_client(settings) as http, build_worker(client, settings, http, publisher):
        for name, inp in SCENARIOS.items():
            handle = await client.start_workflow(
                EssayWorkflow.run,
                inp,
                id=f"essay-{inp.essay_id}-{uuid.uuid4().hex[:6]}",
                task_queue=settings.temporal_task_queue,
            )
            with contextlib.suppress(WorkflowFailureError):  # the rejected one fails on purpose
                await handle.result()
            history = await handle.fetch_history()
            path = HISTORIES / f"{name}.json"
            path.write_text(history.to_json())
            print(f"wrote {path} ({len(history.events)} events)")
    await publisher.close()


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    broker_port, content_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        broker = ManagedProcess("broker", broker_argv(broker_port))
        content = ManagedProcess("content", content_store_argv(content_port, Path(tmp)))
        with broker, content:
            await async_wait_for_port("127.0.0.1", broker_port, 30, broker)
            await async_wait_for_port("127.0.0.1", content_port, 30, content)
            async with await WorkflowEnvironment.start_local(
                data_converter=pydantic_data_converter,
                dev_server_existing_path=str(SCRIPTS / "temporal"),
            ) as env:
                settings = Settings(
                    temporal_task_queue=f"record-{uuid.uuid4()}",
                    kafka_bootstrap_servers=f"127.0.0.1:{broker_port}",
                    kafka_enable_idempotence=False,
                    content_service_url=f"http://127.0.0.1:{content_port}/v1/content",
                )
                await record(env.client, settings)


if __name__ == "__main__":
    asyncio.run(main())
