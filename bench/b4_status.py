"""B4's probe: `GET /v1/batch/{id}/status` on a fixed timetable, counting timeouts and 5xx.

B3 runs it while its own batch runs (loaded); before that, the same count of GETs on a small
batch that has finished gives the idle figure. Peak memory is read by the runner at the end.
"""

from __future__ import annotations

import asyncio

from bench import stats
from bench.harness import Harness
from bench.load import Outcome, open_loop
from workflows.ids import batch_workflow_id

IDLE_BATCH_ESSAYS = 20
SETTLE_TIMEOUT_S = 300.0


async def poll(h: Harness, batch_id: str, stop: asyncio.Event | None = None) -> dict:
    """At most `status_polls` GETs at `status_rate`/s; with `stop`, none after it is set."""
    url = f"{h.stack.url('api')}/v1/batch/{batch_id}/status"

    async def call(i: int) -> Outcome:
        response = await h.http.get(url, timeout_s=h.cfg.status_timeout_s)
        return Outcome(response.status == 200, response.status)

    count = h.cfg.status_polls
    budget = count / h.cfg.status_rate + h.cfg.status_timeout_s + 30
    run = await open_loop(h.cfg.status_rate, count, call, timeout_s=budget, stop=stop)
    latencies = [s.latency_s * 1000 for s in run.ok]
    return {
        "requests": len(run.samples),
        "ok": len(run.ok),
        "timeouts": sum(s.timed_out for s in run.samples),
        "server_errors": sum(1 for s in run.samples if s.status is not None and s.status >= 500),
        "errors": run.errors(),
        "p50_ms": stats.p50(latencies),
        "p99_ms": stats.p99(latencies),
        "latencies_ms": [round(v, 3) for v in latencies],
    }


async def finished_batch(h: Harness, rep: int) -> str:
    """A small batch, triggered and closed: the idle GETs read it."""
    batch_id = h.ids.name("b4-idle", rep)
    essays = [{"text": h.text(n)} for n in range(IDLE_BATCH_ESSAYS)]
    api = h.stack.url("api")
    created = await h.http.post(f"{api}/v1/batch", json={"batch_id": batch_id, "essays": essays})
    triggered = await h.http.post(f"{api}/v1/batch/{batch_id}/spellcheck")
    for response in (created, triggered):
        if response.status != 202:
            raise RuntimeError(f"idle batch: {response.status} {response.text[:300]}")
    await settled(h, batch_id)
    return batch_id


async def settled(h: Harness, batch_id: str) -> None:
    """Wait for the batch's workflow to close (across its continue-as-new runs)."""
    handle = h.temporal.get_workflow_handle(batch_workflow_id(batch_id))
    async with asyncio.timeout(SETTLE_TIMEOUT_S):
        await handle.result()
