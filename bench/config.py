"""The harness's sizes, from the command line and the environment (BENCH_*)."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass

from settings import Settings

BENCHMARKS = ("B1", "B2", "B3", "B4")


@dataclass(frozen=True)
class Config:
    benchmarks: tuple[str, ...]
    quick: bool
    repeat: int
    text_bytes: int
    concurrency: int  # clients in flight at once (B1, B3's naive arm)
    content_concurrency: int  # B3's ceiling: the worker's CONTENT_SERVICE_CONCURRENCY
    accept_requests: int  # B1's N per arm
    latency_rate: float  # B2: requests per second, on a fixed timetable
    latency_seconds: float  # B2: length of each arm's timetable
    batch_essays: int  # B3 ours and ceiling
    naive_essays: int  # B3's naive arm
    page: int  # essays per batch request
    status_rate: float  # B4: status GETs per second
    status_polls: int  # B4: most status GETs per window (idle and loaded alike)
    status_timeout_s: float  # B4: a GET slower than this counts as a timeout
    drain_timeout_s: float  # longest wait for an arm's events after its load ends

    def to_json(self) -> dict:
        return asdict(self)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"bench: {name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"bench: {name} must be at least 1, got {value}")
    return value


def parse(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Side-by-side benchmarks; results in bench/results/.",
        epilog="Environment: BENCH_REPEAT (3), BENCH_ESSAYS (10000), BENCH_NAIVE_ESSAYS (500), "
        "BENCH_QUICK=1 (same as --quick).",
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="B1..B4",
        help="which to run (default: all); B4 runs B3's own arm to load the API",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and one repetition, to try it out"
    )
    args = parser.parse_args(argv)
    chosen = tuple(b.upper() for b in args.benchmarks) or BENCHMARKS
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {BENCHMARKS}")
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    return Config(
        benchmarks=tuple(b for b in BENCHMARKS if b in chosen),
        quick=quick,
        repeat=_int("BENCH_REPEAT", 1 if quick else 3),
        text_bytes=3 * 1024,
        concurrency=32,
        # The worker's own default, so the ceiling makes the requests the worker would.
        content_concurrency=Settings.model_fields["content_service_concurrency"].default,
        accept_requests=_int("BENCH_ACCEPT_REQUESTS", 200 if quick else 1000),
        latency_rate=10.0,
        latency_seconds=5.0 if quick else 20.0,
        batch_essays=_int("BENCH_ESSAYS", 500 if quick else 10_000),
        naive_essays=_int("BENCH_NAIVE_ESSAYS", 100 if quick else 500),
        page=250,
        # Enough GETs per window that p99 is a percentile: of 100 it would be the slowest one.
        status_rate=10.0,
        status_polls=40 if quick else 400,
        status_timeout_s=10.0,
        drain_timeout_s=600.0,
    )
