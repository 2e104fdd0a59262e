"""B3: a class-sized batch, first POST to last event read, in essays per second, four ways:

- ours: the batch API (pages of 250, then the trigger), chunks of essays on the worker;
- outbox: the same pages to the transactional outbox (bench/outbox_service.py);
- single: the product's own single-essay path, `POST /v1/trigger-spellcheck` per essay from 32
  clients at once, the same count of essays;
- ceiling: the same pages to a service that keeps nothing and stores and sends at once
  (bench/ceiling_service.py).

Every arm is warmed up first with a smaller run of its own; the order of the arms rotates from
one repetition to the next, and each repetition restarts the worker on a topic of its own
(`BenchStack.restart_worker` says why). For each arm the CPU each process of the stack used
per essay is read from /proc, from the first POST until the stack is quiet again. B4 (when
asked for) runs our batch once more in each repetition, while its probes poll the batch's
status: their GETs, the uncached ones above all, load the stack, so they stay out of the arms
compared here. Last,
ours runs once at `scale_essays`, with each process's peak memory over that run beside its
peak over the repetitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from bench import b4_status, procfs, stats
from bench.harness import LOAD_GENERATOR, Harness
from bench.load import Outcome, closed_loop

ARMS = ("ours", "outbox", "single", "ceiling")
# The service each arm posts to, and the topic its events are read from.
SERVICE = {"ours": "api", "outbox": "outbox", "single": "api", "ceiling": "ceiling"}
TOPIC = {"ours": "ours", "outbox": "outbox", "single": "ours", "ceiling": "ceiling"}
# The processes that do an arm's work: its CPU per essay is theirs.
STACK = ("temporal", "broker", "content", "worker", "api")
PROCESSES = {
    "ours": STACK,
    "single": STACK,
    "outbox": ("outbox", "broker", "content"),
    "ceiling": ("ceiling", "broker", "content"),
}
# The processes whose peak memory the scale run reports.
MEMORY = ("api", "worker", "temporal", "broker", "content")
ARM_TIMEOUT_S = 1800.0
JSON = {"Content-Type": "application/json"}
PAGE_TIMEOUT_S = 120.0
RETRY_STATUSES = frozenset({429, 503})
RETRY_AFTER_S = 1.0
CURVE_POINTS = 200


def _pages(h: Harness, n: int, batch_id: str) -> list[bytes]:
    # Encoded before the clock starts: 750 KB of JSON per page is work of the load generator's,
    # not of the service it measures.
    page = h.cfg.page
    return [
        json.dumps(
            {"essays": [{"text": h.text(i)} for i in range(start, min(n, start + page))]}
            | ({"batch_id": batch_id} if start == 0 else {})
        ).encode()
        for start in range(0, n, page)
    ]


async def _post(h: Harness, service: str, path: str, body: bytes | None = None) -> tuple[dict, int]:
    """POST until 202, as a client does: a 503 or 429 says "try again" (a page sent again maps
    to the same chunks, so nothing is doubled); anything else, or no 202 in time, fails. The
    answer, and how many times it was sent again."""
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    retries = 0
    while True:
        response = await h.http.post(
            f"{h.stack.url(service)}{path}",
            body=body,
            headers=JSON if body is not None else None,
            timeout_s=PAGE_TIMEOUT_S,
        )
        if response.status == 202:
            return response.json(), retries
        if response.status not in RETRY_STATUSES or time.monotonic() > deadline:
            raise RuntimeError(f"POST {service} {path}: {response.status} {response.text[:300]}")
        retries += 1
        await asyncio.sleep(RETRY_AFTER_S)  # the API's Retry-After: a client's back-off


def _curve(began: float, received: dict[str, float]) -> list[list[float]]:
    """Events read over time, as at most CURVE_POINTS [seconds since the first POST, count]."""
    times = sorted(t - began for t in received.values())
    step = max(1, len(times) // CURVE_POINTS)
    points = [[round(times[i], 3), i + 1] for i in range(step - 1, len(times), step)]
    if points[-1][1] != len(times):
        points.append([round(times[-1], 3), len(times)])
    return points


def _summary(
    arm: str,
    n: int,
    began: float,
    accepted_s: float,
    received: dict[str, float],
    before: dict[str, float],
    after: dict[str, float],
) -> dict:
    elapsed = max(received.values()) - began
    cpu = {name: (after[name] - before[name]) / n for name in (*PROCESSES[arm], LOAD_GENERATOR)}
    return {
        "essays": n,
        "elapsed_s": elapsed,
        "essays_per_s": n / elapsed,
        "accepted_s": accepted_s,
        "cpu_ms_per_essay": cpu,
        "stack_cpu_ms_per_essay": sum(v for k, v in cpu.items() if k != LOAD_GENERATOR),
        "curve": _curve(began, received),
    }


async def batch_arm(
    h: Harness,
    arm: str,
    name: str,
    n: int,
    probes: list[b4_status.StatusProbe] | None = None,
) -> dict:
    """One batch of `n` essays through `arm`'s service, with B4's probes polling it if given."""
    service = SERVICE[arm]
    batch_id = h.ids.name(name)
    pages = _pages(h, n, batch_id)
    stop = asyncio.Event()
    polls: list[asyncio.Task[dict]] = []
    essay_ids: list[str] = []
    before = h.cpu()
    retries = 0
    began = time.monotonic()
    try:
        for number, page_body in enumerate(pages):
            path = "/v1/batch" if number == 0 else f"/v1/batch/{batch_id}/essays"
            answer, retried = await _post(h, service, path, page_body)
            essay_ids += answer["essay_ids"]
            retries += retried
            if number == 0:  # the batch exists from here on
                polls = [asyncio.create_task(p.poll(batch_id, stop)) for p in probes or ()]
        accepted_s = time.monotonic() - began
        await _post(h, service, f"/v1/batch/{batch_id}/spellcheck")
        received = await h.clocks[TOPIC[arm]].wait_for(essay_ids, ARM_TIMEOUT_S, f"B3 {name}")
    finally:
        stop.set()
        windows = [await poll for poll in polls]
    await h.quiet()
    result = _summary(arm, n, began, accepted_s, received, before, h.cpu())
    result.update(batch_id=batch_id, page_retries=retries)
    if probes:
        result["status"] = {p.service: w for p, w in zip(probes, windows, strict=True)}
    h.stack.check_alive()
    return result


async def single_arm(h: Harness, name: str, n: int) -> dict:
    """`n` single essays through the API, 32 clients at once, to the last event."""
    api = h.stack.url("api")

    async def call(i: int) -> Outcome:
        response = await h.post_essay(api, h.text(i))
        ok = response.status == 202
        return Outcome(ok, response.status, response.json()["essay_id"] if ok else None)

    before = h.cpu()
    run = await closed_loop(n, h.cfg.concurrency, call, timeout_s=ARM_TIMEOUT_S)
    if len(run.ok) != n:
        raise RuntimeError(f"B3 {name}: {n - len(run.ok)} of {n} refused: {run.errors()}")
    essay_ids = [s.value for s in run.ok]
    received = await h.clocks["ours"].wait_for(essay_ids, ARM_TIMEOUT_S, f"B3 {name}")
    await h.quiet()
    result = _summary("single", n, run.began, run.elapsed_s, received, before, h.cpu())
    h.stack.check_alive()
    return result


async def _fresh_worker(h: Harness, name: str) -> None:
    """The worker restarted on a topic of its own, then one unmeasured page through it, so no
    arm pays for the new worker's start (its connections, producer and cache)."""
    await h.fresh_worker_topic(name)
    await batch_arm(h, "ours", f"b3-warm-{name}", h.cfg.page)


async def _arm(h: Harness, arm: str, name: str, n: int) -> dict:
    """The arm's run, with each process's peak memory during it."""
    _clear_peaks(h)
    if arm == "single":
        result = await single_arm(h, name, n)
    else:
        result = await batch_arm(h, arm, name, n)
    result["peak_rss_mib"] = _peaks(h)
    return result


def _peaks(h: Harness) -> dict[str, float]:
    pids = h.stack.pids()
    return {name: procfs.peak_rss(pids[name])["sum_mib"] for name in MEMORY if name in pids}


def _clear_peaks(h: Harness) -> None:
    for pid in h.stack.pids().values():
        procfs.clear_peak_rss(pid)


async def run(h: Harness, out: dict, arms: tuple[str, ...], with_status: bool) -> None:
    """`arms` from ARMS (none: B4 alone); their order rotates between repetitions."""
    for arm in arms or ("ours",):
        await _arm(h, arm, f"b3-warm-{arm}", h.cfg.warm_essays)
    reps = out["reps"] = []  # filled as repetitions finish: kept if a later one fails
    async with contextlib.AsyncExitStack() as probing:
        probes = [
            await probing.enter_async_context(b4_status.status_probe(h, service))
            for service in (b4_status.SERVICES if with_status else ())
        ]
        for rep in range(h.cfg.repeat):
            await _fresh_worker(h, f"rep{rep}")
            turn = rep % len(arms) if arms else 0
            order = arms[turn:] + arms[:turn]
            result: dict = {"order": list(order)}
            n = h.cfg.batch_essays
            for arm in order:
                result[arm] = await _arm(h, arm, f"b3-{arm}-{rep}", n)
            if probes:
                result["b4"] = await batch_arm(h, "ours", f"b4-{rep}", n, probes)
            _ratios(result)
            reps.append(result)
            print(f"  B3 rep {rep + 1}: " + _line(result), flush=True)
    # The highest peak of each process over the repetitions' arms.
    arms_run = [rep[arm] for rep in reps for arm in arms if arm in rep]
    out["peak_rss_mib"] = (
        {name: max(run["peak_rss_mib"].get(name, 0.0) for run in arms_run) for name in MEMORY}
        if arms_run
        else {}
    )
    if h.cfg.scale_essays and "ours" in arms:
        await _fresh_worker(h, "scale")
        _clear_peaks(h)
        n = h.cfg.scale_essays
        scale = out["scale"] = await batch_arm(h, "ours", "b3-scale", n)
        scale["peak_rss_mib"] = _peaks(h)
        rates = [rep["ours"]["essays_per_s"] for rep in reps]
        scale["ratio"] = stats.ratio(scale["essays_per_s"], stats.spread(rates)["median"])
        print(
            f"  B3 at {n:,}: {scale['essays_per_s']:.0f}/s ({scale['elapsed_s']:.0f} s), "
            f"{scale['ratio']:.2f} of the rate at {h.cfg.batch_essays:,}",
            flush=True,
        )


def _ratios(result: dict) -> None:
    if "ours" not in result:
        return
    ours = result["ours"]["essays_per_s"]
    for arm in ARMS[1:]:
        if arm in result:
            result[f"{arm}_ratio"] = stats.ratio(ours, result[arm]["essays_per_s"])


def _line(result: dict) -> str:
    parts = [
        f"{arm} {result[arm]['essays_per_s']:.0f}/s "
        f"({result[arm]['stack_cpu_ms_per_essay']:.1f} ms CPU/essay)"
        for arm in ARMS
        if arm in result
    ]
    for service, window in result.get("b4", {}).get("status", {}).items():
        parts.append(f"{service} status p99 {window['p99_ms']:.0f} ms")
    return ", ".join(parts)
