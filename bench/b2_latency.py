"""B2: one essay's latency at a fixed open-loop rate, ours beside the transactional outbox and
the old service (baseline: the content POST and the Kafka send inside the request).

Every arm sends the same bodies on the same timetable from this process; each service's events
are read by identical readers. Latencies count from each request's scheduled send time:
(a) until its 202, (b) until its event reached the reader.
"""

from __future__ import annotations

from bench import stats
from bench.harness import Harness
from bench.load import Outcome, open_loop

SERVICES = {"ours": "api", "outbox": "outbox", "baseline": "baseline"}
WARM_REQUESTS = 10


async def _arm(h: Harness, arm: str, count: int) -> dict:
    base = h.stack.url(SERVICES[arm])

    async def call(i: int) -> Outcome:
        response = await h.post_essay(base, h.text(i))
        ok = response.status == 202
        return Outcome(ok, response.status, response.json()["essay_id"] if ok else None)

    run = await open_loop(
        h.cfg.latency_rate, count, call, timeout_s=h.cfg.latency_seconds + h.cfg.drain_timeout_s
    )
    received = await h.clocks[arm].wait_for(
        [s.value for s in run.ok], h.cfg.drain_timeout_s, f"B2's {arm} arm"
    )
    h.stack.check_alive()
    response_ms = [s.latency_s * 1000 for s in run.ok]
    event_ms = [(received[s.value] - s.start) * 1000 for s in run.ok]
    return {
        "requests": len(run.samples),
        "accepted": len(run.ok),
        "errors": run.errors(),
        "max_send_lag_ms": run.max_send_lag_s * 1000,
        "response_p50_ms": stats.p50(response_ms),
        "response_p99_ms": stats.p99(response_ms),
        "event_p50_ms": stats.p50(event_ms),
        "event_p99_ms": stats.p99(event_ms),
        "response_ms": [round(v, 3) for v in response_ms],
        "event_ms": [round(v, 3) for v in event_ms],
    }


async def run(h: Harness, out: dict) -> None:
    count = round(h.cfg.latency_rate * h.cfg.latency_seconds)
    for arm in SERVICES:
        await _arm(h, arm, WARM_REQUESTS)  # connection pools and caches, not measured
    out.update(rate_per_s=h.cfg.latency_rate, requests_per_arm=count)
    reps = out["reps"] = []  # filled as repetitions finish: kept if a later one fails
    names = list(SERVICES)
    for rep in range(h.cfg.repeat):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        result: dict = {arm: await _arm(h, arm, count) for arm in order}
        result["order"] = order
        ours = result["ours"]
        for arm in ("outbox", "baseline"):
            other = result[arm]
            result[f"{arm}_response_ratio"] = stats.ratio(
                ours["response_p50_ms"], other["response_p50_ms"]
            )
            result[f"{arm}_event_ratio"] = stats.ratio(ours["event_p50_ms"], other["event_p50_ms"])
        reps.append(result)
        print(
            f"  B2 rep {rep + 1}: "
            + "; ".join(
                f"{arm} 202 p50 {result[arm]['response_p50_ms']:.1f} ms, event p50 "
                f"{result[arm]['event_p50_ms']:.1f} p99 {result[arm]['event_p99_ms']:.1f} ms"
                for arm in names
            ),
            flush=True,
        )
