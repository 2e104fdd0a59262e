"""B1: how fast the API accepts essays, beside starting the same workflows straight with the SDK
(a regression figure: what the API adds to a start) and beside the transactional outbox's
`POST /v1/trigger-spellcheck` (an fsynced SQLite commit per essay).

Every arm: N essays of 3 KB at the same concurrency; ours and the SDK's start EssayWorkflow on
the same task queue, with the same worker running. Each repetition runs the arms in BLOCKS
blocks of N/BLOCKS essays each, the arms' order rotating from block to block and from one
repetition to the next, so a drift of the shared machine's speed during a repetition weighs on
every arm alike; an arm's rate is its essays over its blocks' summed time. After every block
its essays' events are awaited, so no block competes with another's backlog.
"""

from __future__ import annotations

import uuid

from api.essays.start import start_essay_workflow
from bench import stats
from bench.harness import Harness
from bench.load import Outcome, Run, closed_loop

ARM_TIMEOUT_S = 600.0
# Blocks per arm and repetition: the machine's speed drifts over seconds (one arm of 1,000
# starts ran at 136/s in one second and 65/s three seconds later), and one long block per arm
# gave ratios from 0.59 to 1.00 within a run.
BLOCKS = 4


def _posting(service: str):
    async def arm(h: Harness, count: int) -> Run:
        base = h.stack.url(service)

        async def call(i: int) -> Outcome:
            response = await h.post_essay(base, h.text(i))
            ok = response.status == 202
            return Outcome(ok, response.status, response.json()["essay_id"] if ok else None)

        return await closed_loop(count, h.cfg.concurrency, call, timeout_s=ARM_TIMEOUT_S)

    return arm


async def _sdk_arm(h: Harness, count: int) -> Run:
    async def call(i: int) -> Outcome:
        essay_id = str(uuid.uuid4())  # the id the API makes for a body without one
        # The API's own call: same options (memo, search attributes, summary, id policies).
        await start_essay_workflow(
            h.temporal,
            task_queue=h.stack.task_queue,
            essay_id=essay_id,
            text=h.text(i),
            correlation_id=str(uuid.uuid4()),
        )
        return Outcome(True, None, essay_id)

    return await closed_loop(count, h.cfg.concurrency, call, timeout_s=ARM_TIMEOUT_S)


ARMS = {"api": _posting("api"), "sdk": _sdk_arm, "outbox": _posting("outbox")}
TOPIC = {"api": "ours", "sdk": "ours", "outbox": "outbox"}


async def _drained(h: Harness, arm: str, run: Run, what: str) -> None:
    """Wait for every accepted essay's event, so the next arm starts with an idle worker."""
    await h.clocks[TOPIC[arm]].wait_for([s.value for s in run.ok], h.cfg.drain_timeout_s, what)
    h.stack.check_alive()


async def _block(h: Harness, arm: str, count: int) -> Run:
    run = await ARMS[arm](h, count)
    await _drained(h, arm, run, f"B1's {arm} arm")
    return run


def _summary(runs: list[Run]) -> dict:
    # One Run of every block's samples, for what does not depend on time (errors).
    merged = Run(0.0, 0.0, [s for run in runs for s in run.samples])
    samples, ok = merged.samples, merged.ok
    elapsed = sum(run.elapsed_s for run in runs)
    return {
        "requests": len(samples),
        "accepted": len(ok),
        "blocks": len(runs),
        "elapsed_s": elapsed,
        "rate_per_s": len(ok) / elapsed,
        "block_rates_per_s": [len(run.ok) / run.elapsed_s for run in runs],
        "latency_p50_ms": stats.p50([s.latency_s for s in ok]) * 1000,
        "errors": merged.errors(),
        "latencies_ms": [round(s.latency_s * 1000, 3) for s in samples],
    }


async def run(h: Harness, out: dict) -> None:
    # Warm both paths (connection pools, the server's caches) outside the measured windows.
    for arm, start in ARMS.items():
        await _drained(h, arm, await start(h, h.cfg.concurrency), f"B1's {arm} warm-up")
    reps = out["reps"] = []  # filled as repetitions finish: kept if a later one fails
    names = list(ARMS)
    for rep in range(h.cfg.repeat):
        order = [names[(rep + block + i) % len(names)] for block in range(BLOCKS) for i in range(3)]
        block_size = max(1, h.cfg.accept_requests // BLOCKS)
        runs: dict[str, list[Run]] = {arm: [] for arm in names}
        for arm in order:
            runs[arm].append(await _block(h, arm, block_size))
        result: dict = {arm: _summary(arm_runs) for arm, arm_runs in runs.items()}
        result["order"] = order
        rate = {arm: result[arm]["rate_per_s"] for arm in names}
        result["ratio"] = stats.ratio(rate["api"], rate["sdk"])
        result["outbox_ratio"] = stats.ratio(rate["api"], rate["outbox"])
        reps.append(result)
        print(
            f"  B1 rep {rep + 1}: api {rate['api']:.0f}/s, sdk {rate['sdk']:.0f}/s, "
            f"outbox {rate['outbox']:.0f}/s",
            flush=True,
        )
