"""B1: how fast the API accepts essays, beside starting the same workflows straight with the SDK.

Both arms: N starts of EssayWorkflow with a 3 KB text at the same concurrency, on the same task
queue, with the same worker running. Between arms every accepted essay's event is awaited, so
neither arm competes with the other's backlog; the arm order alternates between repetitions.
"""

from __future__ import annotations

import uuid

from api.essay_start import start_essay_workflow
from bench import stats
from bench.harness import Harness
from bench.load import Outcome, Run, closed_loop

ARM_TIMEOUT_S = 600.0


async def _api_arm(h: Harness, count: int) -> Run:
    api = h.stack.url("api")

    async def call(i: int) -> Outcome:
        response = await h.post_essay(api, h.text(i))
        ok = response.status_code == 202
        return Outcome(ok, response.status_code, response.json()["essay_id"] if ok else None)

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


async def _measure(h: Harness, arm: str) -> dict:
    run = await ARMS[arm](h, h.cfg.accept_requests)
    await _drained(h, run, f"B1's {arm} arm")
    return {
        "requests": len(run.samples),
        "accepted": len(run.ok),
        "elapsed_s": run.elapsed_s,
        "rate_per_s": len(run.ok) / run.elapsed_s,
        "latency_p50_ms": stats.p50([s.latency_s for s in run.ok]) * 1000,
        "errors": run.errors(),
        "latencies_ms": [round(s.latency_s * 1000, 3) for s in run.samples],
    }


async def run(h: Harness, out: dict) -> None:
    # Warm both paths (connection pools, the server's caches) outside the measured windows.
    for arm, start in ARMS.items():
        await _drained(h, await start(h, h.cfg.concurrency), f"B1's {arm} warm-up")
    reps = out["reps"] = []  # filled as repetitions finish: kept if a later one fails
    for rep in range(h.cfg.repeat):
        order = ("api", "sdk") if rep % 2 == 0 else ("sdk", "api")
        result: dict = {arm: await _measure(h, arm) for arm in order}
        result["order"] = list(order)
        result["ratio"] = stats.ratio(result["api"]["rate_per_s"], result["sdk"]["rate_per_s"])
        reps.append(result)
        print(
            f"  B1 rep {rep + 1}: api {result['api']['rate_per_s']:.0f}/s, "
            f"sdk {result['sdk']['rate_per_s']:.0f}/s, ratio {result['ratio']:.2f}",
            flush=True,
        )
