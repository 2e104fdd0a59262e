"""`python -m bench [B1 B2 B3 B4] [--quick]`: start a stack, run the benchmarks, report, stop.

Exit code 0 when every benchmark ran (whether or not it met its target: the table says), 1 when
one raised or the stack could not start.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from bench import b1_accept, b2_latency, b3_batch, chart, config, procfs, report
from bench.harness import Harness, harness
from bench.stack import BenchStack
from devstack.components import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "bench" / "results"


async def _guarded(
    h: Harness,
    results: dict,
    name: str,
    readers: tuple[str, ...],
    run: Callable[[dict], Awaitable[None]],
) -> None:
    """One benchmark's failure is recorded and reported (the repetitions it finished stay in
    the JSON); the others still run."""
    print(f"{name} ...", flush=True)
    # What the harness and earlier benchmarks made (clients, samples, the readers' clocks) is
    # left out of later full collections, which would otherwise walk it all and pause this
    # loop while it times requests.
    gc.collect()
    gc.freeze()
    began = time.monotonic()
    out = results[name] = {}
    try:
        async with h.reading(*readers):
            await run(out)
    except Exception as exc:  # reported in the table and the JSON, with the traceback here
        traceback.print_exc()
        out["error"] = f"{type(exc).__name__}: {exc}"[:500]
    out["wall_s"] = time.monotonic() - began


async def _run_benchmarks(h: Harness, cfg: config.Config) -> dict:
    results: dict = {}
    chosen = cfg.benchmarks
    if "B1" in chosen:
        run_b1 = functools.partial(b1_accept.run, h)
        await _guarded(h, results, "B1", ("ours", "outbox"), run_b1)
    if "B2" in chosen:
        run_b2 = functools.partial(b2_latency.run, h)
        await _guarded(h, results, "B2", ("ours", "outbox", "baseline"), run_b2)
    if "B3" in chosen or "B4" in chosen:
        # B4 runs our batch once more per repetition; asked for alone, only that runs.
        arms = b3_batch.ARMS if "B3" in chosen else ()
        run_b3 = functools.partial(b3_batch.run, h, arms=arms, with_status="B4" in chosen)
        await _guarded(h, results, "B3", ("ours", "outbox", "ceiling"), run_b3)
    return results


async def _main(cfg: config.Config, stamp: str) -> int:
    # A SIGTERM (the make job killed) cancels the run, so the stack is still stopped below.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)

    log_dir = RESULTS_DIR / f"bench-{stamp}-logs"
    document: dict = {
        "started_at": datetime.now(UTC).isoformat(),
        "command": sys.argv,
        "config": cfg.to_json(),
        "machine": procfs.machine(),
        "logs": str(log_dir.relative_to(REPO_ROOT)),
    }
    began = time.monotonic()
    results: dict = {}
    failed = False
    print(f"bench: {', '.join(cfg.benchmarks)}; repeat {cfg.repeat}; logs in {log_dir}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as work_dir:
        stack = BenchStack(Path(work_dir), log_dir)
        document["stack"] = {
            "ports": stack.ports,
            "topics": stack.topics,
            "task_queue": stack.task_queue,
            "background_nice": stack.background_nice,
            "worker_nice": stack.worker_nice,
            "runs": stack.RUNS,
        }
        try:
            await stack.start()
            async with harness(cfg, stack) as h:
                document["stack"]["pids"] = stack.pids()
                document["startup_s"] = time.monotonic() - began
                print(
                    f"stack ready in {document['startup_s']:.1f} s (niceness: Temporal, broker"
                    f" and content store {stack.background_nice}, workers {stack.worker_nice},"
                    f" the services and clients 0); {stack.RUNS}",
                    flush=True,
                )
                results = await _run_benchmarks(h, cfg)
        except Exception:
            traceback.print_exc()
            print(f"bench: the stack failed; see the logs in {log_dir}", file=sys.stderr)
            failed = True
        finally:
            stack.stop()
    document["left_running"] = stack.still_running()
    document["wall_s"] = time.monotonic() - began
    document["machine"]["loadavg_end"] = procfs.loadavg()
    rows = report.build_rows(results)
    document.update(results=results, rows=[report.row_json(r) for r in rows])
    document["all_pass"] = bool(rows) and all(r.passed for r in rows if r.op)
    print()
    print(report.table(rows))
    print()
    print(report.cost_table(results))
    print()
    print(report.durability())
    print(f"\nwall time {document['wall_s']:.0f} s; machine: {_machine_line(document['machine'])}")
    if document["left_running"]:
        print(f"bench: still running after stop: {document['left_running']}", file=sys.stderr)
    json_path = report.write(RESULTS_DIR, stamp, document)
    title = f"make bench {stamp} ({'quick' if cfg.quick else f'{cfg.repeat} repetitions'})"
    png_path = chart.draw(results, RESULTS_DIR, stamp, title)
    print(f"results: {json_path.relative_to(REPO_ROOT)}", end="")
    print(f", {png_path.relative_to(REPO_ROOT)}" if png_path else "")
    errored = any("error" in r for r in results.values())
    return 1 if failed or errored or document["left_running"] else 0


def _machine_line(m: dict) -> str:
    return f"{m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total_mib'] / 1024:.0f} GiB"


def main() -> None:
    cfg = config.parse(sys.argv[1:])
    # Tracing off, whatever this shell exports: the stack inherits this environment.
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        # uvloop, as the API and the worker: less of the load generator's CPU per request.
        code = uvloop.run(_main(cfg, stamp))
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C or SIGTERM: the stack was stopped on the way out; there is nothing to report.
        print("bench: interrupted; the stack is stopped", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
