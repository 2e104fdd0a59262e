"""Changing a running workflow: docs/versioning.md's procedure, checked against real histories.

The product's committed histories (histories/*.json) stand for runs that are open when new code
is deployed. The same change replays them when it is behind `workflow.patched`, and fails them
with a non-determinism error when it is not. The patch's retirement is checked on runs recorded
here through the real activities (content store and broker).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker, WorkflowReplayResults

from activities.content import ContentActivities
from activities.events import EventActivities
from activities.kafka import KafkaPublisher
from contracts.essay import EssayInput
from settings import Settings
from tests.replay.changed_workflows import (
    CarelessChunkWorkflow,
    CarelessEssayWorkflow,
    DeprecatedPatchEssayWorkflow,
    PatchedChunkWorkflow,
    PatchedEssayWorkflow,
    PatchRetiredEssayWorkflow,
)
from worker import build_http_client
from workflows.batch import BatchWorkflow
from workflows.essay import EssayWorkflow

ROOT = Path(__file__).with_name("histories")
HISTORIES = sorted(ROOT.rglob("*.json"))
CHANGED_TYPES = {"EssayWorkflow", "ChunkWorkflow"}


def load(path: Path) -> WorkflowHistory:
    """The history, named by its path under histories/ (generations reuse file names)."""
    return WorkflowHistory.from_json(str(path.relative_to(ROOT).with_suffix("")), path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


async def replay(workflows: list[type], histories: Iterable[WorkflowHistory]) -> dict[str, str]:
    """Replay every history; the failures by history name (the file's stem)."""
    histories = list(histories)

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    results: WorkflowReplayResults = await replayer.replay_workflows(
        each(), raise_on_replay_failure=False
    )
    names = {h.run_id: h.workflow_id for h in histories}
    failures: dict[str, str] = {}
    for run_id, error in results.replay_failures.items():
        assert isinstance(error, workflow.NondeterminismError), repr(error)
        failures[names[run_id]] = str(error)
    return failures


def test_the_committed_histories_include_the_changed_workflows() -> None:
    types = {workflow_type(load(p)) for p in HISTORIES}
    assert types >= CHANGED_TYPES  # else the two tests below would prove nothing


async def test_a_change_behind_workflow_patched_replays_every_committed_history() -> None:
    failures = await replay(
        [PatchedEssayWorkflow, BatchWorkflow, PatchedChunkWorkflow], map(load, HISTORIES)
    )
    assert failures == {}


async def test_the_same_change_without_a_patch_breaks_the_runs_already_open() -> None:
    histories = [load(p) for p in HISTORIES]
    failures = await replay(
        [CarelessEssayWorkflow, BatchWorkflow, CarelessChunkWorkflow], histories
    )
    changed = {h.workflow_id for h in histories if workflow_type(h) in CHANGED_TYPES}
    # Every essay and chunk run fails, and only those: the batch parent did not change.
    assert set(failures) == changed
    assert all("Nondeterminism" in message for message in failures.values())


# -- retiring the patch ----------------------------------------------------------------------


async def record(
    env: WorkflowEnvironment, settings: Settings, workflow_class: type
) -> WorkflowHistory:
    """Run one essay through `workflow_class` with the real activities; its history."""
    publisher = KafkaPublisher(settings)
    try:
        async with build_http_client(settings) as http:
            content = ContentActivities(http, settings.content_service_url)
            events = EventActivities(publisher, settings.kafka_topic)
            async with Worker(
                env.client,
                task_queue=settings.temporal_task_queue,
                workflows=[workflow_class],
                activities=[content.store_essay, events.publish_event],
            ):
                handle = await env.client.start_workflow(
                    workflow_class.run,
                    EssayInput(essay_id="versioned", text="Helo wrold", correlation_id="c-1"),
                    id=f"essay-versioned-{uuid.uuid4().hex[:8]}",
                    task_queue=settings.temporal_task_queue,
                )
                status = await handle.result()
                assert status.state == "published"
                return await handle.fetch_history()
    finally:
        await publisher.close()


async def test_a_patch_is_retired_in_two_steps(
    ts_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    committed = [h for h in map(load, HISTORIES) if workflow_type(h) == "EssayWorkflow"]
    under_patch = await record(ts_env, settings, PatchedEssayWorkflow)
    under_deprecation = await record(ts_env, settings, DeprecatedPatchEssayWorkflow)

    # During the rollout a worker still on the old code cannot replay a run that took the new
    # path: its task fails and is retried until a new worker takes it.
    assert list(await replay([EssayWorkflow], [under_patch])) == [under_patch.workflow_id]
    # Step 1, deprecate_patch: replays the runs that took the patched path...
    assert await replay([DeprecatedPatchEssayWorkflow], [under_patch]) == {}
    # ...but not those from before the patch: deploy it only once none of them is open.
    assert set(await replay([DeprecatedPatchEssayWorkflow], committed)) == {
        h.workflow_id for h in committed
    }
    # Step 2, no call at all: replays the runs recorded under deprecate_patch...
    assert await replay([PatchRetiredEssayWorkflow], [under_deprecation]) == {}
    # ...but not those recorded under patched (their marker is not deprecated): skipping
    # step 1 would break them.
    failed = await replay([PatchRetiredEssayWorkflow], [under_patch])
    assert list(failed) == [under_patch.workflow_id]
