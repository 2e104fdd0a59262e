"""B1: how fast the API accepts essays, beside starting the same workflows straight with the SDK.

Both arms: N starts of EssayWorkflow with a 3 KB text at the same concurrency, on the same task
queue, with the same worker running. Each repetition runs the arms in BLOCKS blocks of N/BLOCKS
starts each, in the order A B B A A B B A (A and B swap between repetitions), so a drift of the
shared machine's speed during a repetition weighs on both arms alike; an arm's rate is its starts
over its blocks' summed time. After every block its essays' events are awaited, so no block
competes with another's backlog.
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


async def _api_arm(h: Harness, count: int) -> Run:
    api = h.stack.url("api")

    async def call(i: int) -> Outcome:
        response = await h.post_essay(api, h.text(i))
        ok = response.status == 202
        return Outcome(ok, response.status, response.json()["essay_id"] if ok else None)

    return await closed_loop(count, h.cfg.concurrency, call, timeout_s=ARM_TIMEOUT_S)


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


ARMS = {"api": _api_arm, "sdk": _sdk_arm}


async def _drained(h: Harness, run: Run, what: str) -> None:
    """Wait for every accepted essay's event, so the next arm starts with an idle worker."""
    await h.clocks["ours"].wait_for([s.value for s in run.ok], h.cfg.drain_timeout_s, what)
    h.stack.check_alive()


async def _block(h: Harness, arm: str, count: int) -> Run:
    run = await ARMS[arm](h, count)
    await _drained(h, run, f"B1's {arm} arm")
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
        await _drained(h, await start(h, h.cfg.concurrency), f"B1's {arm} warm-up")
    reps = out["reps"] = []  # filled as repetitions finish: kept if a later one fails
    for rep in range(h.cfg.repeat):
        pair = ("api", "sdk") if rep % 2 == 0 else ("sdk", "api")
        order = [arm for block in range(BLOCKS) for arm in pair[:: 1 if block % 2 == 0 else -1]]
        block_size = max(1, h.cfg.accept_requests // BLOCKS)
        runs: dict[str, list[Run]] = {arm: [] for arm in pair}
        for arm in order:
            runs[arm].append(await _block(h, arm, block_size))
        result: dict = {arm: _summary(arm_runs) for arm, arm_runs in runs.items()}
        result["order"] = order
        result["ratio"] = stats.ratio(result["api"]["rate_per_s"], result["sdk"]["rate_per_s"])
        reps.append(result)
        print(
            f"  B1 rep {rep + 1}: api {result['api']['rate_per_s']:.0f}/s, "
            f"sdk {result['sdk']['rate_per_s']:.0f}/s, ratio {result['ratio']:.2f}",
            flush=True,
        )
