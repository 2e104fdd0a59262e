"""One change to the running workflows, written each way docs/versioning.md describes.

The change adds a step before the texts are stored:
- EssayWorkflow waits on a durable timer first (say, to spread a burst of essays);
- ChunkWorkflow runs a new activity first (say, counting the chunk's words).

Each class takes the product workflow's name, so a Replayer that registers it replays the
product's committed histories as if this code had been deployed. test_versioning.py does that.
The classes live here, not in the test module, because the workflow sandbox re-imports the
module that defines a workflow, and a test module's imports (pytest, httpx, the worker) must not
be imported there.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.batch import ChunkHeader, ChunkStatus
    from contracts.essay import EssayInput, EssayStatus
    from workflows.chunk import ChunkWorkflow
    from workflows.essay import EssayWorkflow

# A patch id names the change, for good: it is written into the history of every run that
# took the new path, and later code is matched against it.
ESSAY_PAUSE_PATCH = "essay-pause-before-store"
CHUNK_COUNT_PATCH = "chunk-count-words-before-store"
PAUSE = timedelta(seconds=1)
# Replay never runs activities, so the new activity needs a name here, not an implementation.
COUNT_WORDS = "count_chunk_words"


async def _count_words(inp: ChunkHeader) -> None:
    await workflow.execute_activity(
        COUNT_WORDS, inp.chunk_number, start_to_close_timeout=timedelta(seconds=30)
    )


# -- the careless change: new commands for every run, including those already running ------


@workflow.defn(name="EssayWorkflow")
class CarelessEssayWorkflow(EssayWorkflow):
    @workflow.run
    async def run(self, inp: EssayInput) -> EssayStatus:
        await workflow.sleep(PAUSE)
        return await super().run(inp)


@workflow.defn(name="ChunkWorkflow")
class CarelessChunkWorkflow(ChunkWorkflow):
    @workflow.run
    async def run(self, inp: ChunkHeader) -> ChunkStatus:
        await _count_words(inp)
        return await super().run(inp)


# -- stage 1: the new path behind workflow.patched -------------------------------------------


@workflow.defn(name="EssayWorkflow")
class PatchedEssayWorkflow(EssayWorkflow):
    @workflow.run
    async def run(self, inp: EssayInput) -> EssayStatus:
        # False while replaying a history recorded before the patch: that run keeps its path.
        if workflow.patched(ESSAY_PAUSE_PATCH):
            await workflow.sleep(PAUSE)
        return await super().run(inp)


@workflow.defn(name="ChunkWorkflow")
class PatchedChunkWorkflow(ChunkWorkflow):
    @workflow.run
    async def run(self, inp: ChunkHeader) -> ChunkStatus:
        if workflow.patched(CHUNK_COUNT_PATCH):
            await _count_words(inp)
        return await super().run(inp)


# -- stage 2: no run from before the patch is left; the old path goes -------------------------


@workflow.defn(name="EssayWorkflow")
class DeprecatedPatchEssayWorkflow(EssayWorkflow):
    @workflow.run
    async def run(self, inp: EssayInput) -> EssayStatus:
        workflow.deprecate_patch(ESSAY_PAUSE_PATCH)
        await workflow.sleep(PAUSE)
        return await super().run(inp)


# -- stage 3: no run from stage 1 is left; the patch call goes --------------------------------


@workflow.defn(name="EssayWorkflow")
class PatchRetiredEssayWorkflow(EssayWorkflow):
    @workflow.run
    async def run(self, inp: EssayInput) -> EssayStatus:
        await workflow.sleep(PAUSE)
        return await super().run(inp)
