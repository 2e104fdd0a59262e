"""Re-record the replay histories from real runs: `make histories`.

Starts a dev server (with continue-as-new suggested after a few events, so the batch parent
continues-as-new), the broker and the content store on free ports, runs each scenario through
the real worker and API code, and writes every run's history under histories/, replacing the
files there. With `--generation NAME` (`make histories GENERATION=NAME`) it writes them under
histories/NAME/ instead and leaves every other file alone: after a release, the histories of
older code stay until no run of that code can be open (docs/versioning.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sysconfig
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from api.app import create_app
from contracts.batch import CloseInput
from contracts.essay import EssayInput, Following
from contracts.ids import SEARCH_ATTRIBUTES
from contracts.results import RESULTS_SIGNAL, ResultsDelivery, SpellcheckOutcome
from devstack.components import (
    ManagedProcess,
    async_wait_for_port,
    broker_argv,
    content_store_argv,
    free_port,
)
from settings import Settings
from tests.helpers import chunk_workflow_ids, wait_until
from worker import build_http_client, build_workers
from workflows.batch import BatchWorkflow
from workflows.essay import EssayWorkflow

HISTORIES = Path(__file__).with_name("histories")
GENERATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCRIPTS = Path(sysconfig.get_path("scripts"))
# Low enough that the batch parent continues-as-new several times in a small batch.
SUGGEST_CONTINUE_AS_NEW_AFTER = 25

# ids are fixed so that re-recorded files differ only where behaviour does.
ESSAYS = {
    "essay_published": EssayInput(
        essay_id="replay-essay-1", text="Helo wrold", correlation_id="corr-replay-1"
    ),
    # The content store rejects an empty body with 400: the non-retryable path.
    "essay_rejected": EssayInput(
        essay_id="replay-essay-2", text="", correlation_id="corr-replay-2"
    ),
}


async def save_runs(client: Client, workflow_id: str, name: str, target: Path) -> None:
    """Every run of the workflow (continue-as-new makes several), oldest first."""
    runs = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    runs.sort(key=lambda e: e.start_time)
    for n, execution in enumerate(runs, start=1):
        history = await client.get_workflow_handle(
            workflow_id, run_id=execution.run_id
        ).fetch_history()
        suffix = f"_run{n}" if len(runs) > 1 else ""
        path = target / f"{name}{suffix}.json"
        path.write_text(history.to_json())
        print(f"wrote {path.relative_to(HISTORIES.parent)} ({len(history.events)} events)")


async def record_essays(client: Client, settings: Settings, target: Path) -> None:
    for name, inp in ESSAYS.items():
        workflow_id = f"essay-{inp.essay_id}-{uuid.uuid4().hex[:6]}"
        handle = await client.start_workflow(
            EssayWorkflow.run, inp, id=workflow_id, task_queue=settings.temporal_task_queue
        )
        with contextlib.suppress(WorkflowFailureError):  # the rejected one fails on purpose
            await handle.result()
        await save_runs(client, workflow_id, name, target)


# Results followed, with no spell checker: requests go out again, then time out; a retry
# starts a second round, which times out too, and the retry window closes the workflows.
FOLLOWING = Following(max_requests=2, timeout_s=1, retry_window_s=4)


async def record_followed(client: Client, settings: Settings, target: Path) -> None:
    """An essay that gets its result by signal, one that times out and is retried, and a
    batch that times out, is retried, and closes at the end of its window."""
    answered = f"replay-followed-{uuid.uuid4().hex[:6]}"
    handle = await _start_followed(
        client, settings, answered, 3, FOLLOWING.model_copy(update={"timeout_s": 60})
    )
    await _until(lambda: _essay_state(handle), "published")
    await handle.signal(
        RESULTS_SIGNAL,
        ResultsDelivery(
            results=[
                SpellcheckOutcome(
                    essay_id="replay-essay-3",
                    correlation_id="corr-replay-3",
                    success=True,
                    storage_id="0" * 32,
                    corrections_made=1,
                )
            ]
        ),
    )
    await handle.result()
    await save_runs(client, answered, "essay_spellchecked", target)

    timed_out = f"replay-timed-out-{uuid.uuid4().hex[:6]}"
    handle = await _start_followed(client, settings, timed_out, 4, FOLLOWING)
    await _until(lambda: _essay_state(handle), "spellcheck_timed_out")
    await handle.execute_update(EssayWorkflow.retry, CloseInput())
    await handle.result()
    await save_runs(client, timed_out, "essay_timed_out_retried", target)

    app = create_app(
        temporal_client=client,
        settings=settings.model_copy(
            update={
                "spellcheck_max_requests": FOLLOWING.max_requests,
                "spellcheck_timeout_s": FOLLOWING.timeout_s,
                "spellcheck_retry_window_s": FOLLOWING.retry_window_s,
            }
        ),
    )
    async with app.test_app() as test_app:
        api = test_app.test_client()
        batch = f"replay-followed-{uuid.uuid4().hex[:6]}"
        essays = [{"text": f"replay essay {n}"} for n in range(3)]
        await api.post("/v1/batch", json={"batch_id": batch, "essays": essays})
        await api.post(f"/v1/batch/{batch}/spellcheck")
        parent = client.get_workflow_handle_for(BatchWorkflow.run, f"batch-{batch}")
        await _until(lambda: _batch_state(parent), "spellchecked")
        await parent.execute_update(BatchWorkflow.retry, CloseInput())
        await parent.result()
        await save_runs(client, f"batch-{batch}", "batch_timed_out_retried", target)
        chunk = (await chunk_workflow_ids(client, batch))[0]
        await client.get_workflow_handle(chunk).result()
        await save_runs(client, chunk, "batch_timed_out_retried_chunk", target)


async def _start_followed(
    client: Client, settings: Settings, workflow_id: str, number: int, following: Following
):
    """Replay essay `number` (fixed ids, so re-recorded files differ only in behaviour)."""
    return await client.start_workflow(
        EssayWorkflow.run,
        EssayInput(
            essay_id=f"replay-essay-{number}",
            text="Helo",
            correlation_id=f"corr-replay-{number}",
            following=following,
        ),
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
    )


async def _essay_state(handle) -> str:
    return (await handle.query(EssayWorkflow.status)).state.value


async def _batch_state(handle) -> str:
    return (await handle.query(BatchWorkflow.status)).state.value


async def _until(read, state: str) -> None:
    async def reached() -> bool:
        return await read() == state

    await wait_until(reached, timeout_s=60, what=f"the state {state}")


async def record_batches(client: Client, settings: Settings, target: Path) -> None:
    app = create_app(temporal_client=client, settings=settings)
    async with app.test_app() as test_app:
        api = test_app.test_client()
        done = f"replay-batch-{uuid.uuid4().hex[:6]}"
        essays = [{"text": f"replay essay {n}"} for n in range(230)]
        await api.post("/v1/batch", json={"batch_id": done, "essays": essays[:200]})
        await api.post(f"/v1/batch/{done}/essays", json={"essays": essays[200:]})
        await api.post(f"/v1/batch/{done}/spellcheck")
        await client.get_workflow_handle(f"batch-{done}").result()
        await save_runs(client, f"batch-{done}", "batch_completed", target)
        await save_runs(
            client, (await chunk_workflow_ids(client, done))[0], "batch_completed_chunk", target
        )

        cancelled = f"replay-cancel-{uuid.uuid4().hex[:6]}"
        await api.post("/v1/batch", json={"batch_id": cancelled, "essays": essays[:50]})
        await api.post(f"/v1/batch/{cancelled}/cancel")
        await client.get_workflow_handle(f"batch-{cancelled}").result()
        await client.get_workflow_handle((await chunk_workflow_ids(client, cancelled))[0]).result()
        await save_runs(client, f"batch-{cancelled}", "batch_cancelled", target)
        await save_runs(
            client,
            (await chunk_workflow_ids(client, cancelled))[0],
            "batch_cancelled_chunk",
            target,
        )


def prepare_target(generation: str | None) -> Path:
    """The folder to write into, emptied of the histories it will hold again."""
    if generation is None:
        HISTORIES.mkdir(exist_ok=True)
        for old in HISTORIES.glob("*.json"):
            old.unlink()
        return HISTORIES
    if not GENERATION_NAME.match(generation):
        raise SystemExit(f"GENERATION must match {GENERATION_NAME.pattern}, got {generation!r}")
    target = HISTORIES / generation
    if target.exists():
        # A committed generation stands for runs of code that may still be open: never
        # overwrite it; a new change gets a new generation.
        raise SystemExit(f"{target} exists already; pick a new GENERATION name")
    target.mkdir(parents=True)
    return target


async def main(generation: str | None) -> None:
    target = prepare_target(generation)
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
                search_attributes=SEARCH_ATTRIBUTES,
                dev_server_extra_args=[
                    "--dynamic-config-value",
                    f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AFTER}",
                ],
            ) as env:
                settings = Settings(
                    temporal_task_queue=f"record-{uuid.uuid4()}",
                    kafka_bootstrap_servers=f"127.0.0.1:{broker_port}",
                    kafka_enable_idempotence=False,
                    content_service_url=f"http://127.0.0.1:{content_port}/v1/content",
                    spellcheck_max_requests=0,  # the followed scenarios set their own
                    api_metrics_port=0,
                    worker_metrics_port=0,
                )
                publisher = KafkaPublisher(settings)
                async with (
                    build_http_client(settings) as http,
                    build_workers(env.client, settings, http, publisher),
                ):
                    await record_essays(env.client, settings, target)
                    await record_batches(env.client, settings, target)
                    await record_followed(env.client, settings, target)
                await publisher.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generation", help="record into histories/GENERATION/, keeping the rest")
    asyncio.run(main(parser.parse_args().generation))
