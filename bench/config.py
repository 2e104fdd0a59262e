"""The harness's sizes, from the command line and the environment (BENCH_*)."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass

BENCHMARKS = ("B1", "B2", "B3", "B4")


@dataclass(frozen=True)
class Config:
    benchmarks: tuple[str, ...]
    quick: bool
    repeat: int
    text_bytes: int
    concurrency: int  # clients in flight at once (B1, B3's single-essay arm)
    accept_requests: int  # B1's N per arm
    latency_rate: float  # B2: requests per second, on a fixed timetable
    latency_seconds: float  # B2: length of each arm's timetable
    batch_essays: int  # B3: every arm, the single-essay path's too
    warm_essays: int  # B3: each arm's unmeasured warm-up
    scale_essays: int  # B3 once more, ours alone, at this size (0: not)
    page: int  # essays per batch request
    status_rate: float  # B4: status GETs per second, to each of the two APIs
    status_polls: int  # B4: most status GETs per window
    status_timeout_s: float  # B4: a GET slower than this counts as a timeout
    drain_timeout_s: float  # longest wait for an arm's events after its load ends

    def to_json(self) -> dict:
        return asdict(self)


def _int(name: str, default: int, least: int = 1) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"bench: {name} must be a whole number, got {raw!r}") from None
    if value < least:
        raise SystemExit(f"bench: {name} must be at least {least}, got {value}")
    return value


def parse(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Side-by-side benchmarks; results in bench/results/.",
        epilog="Environment: BENCH_REPEAT (5), BENCH_ESSAYS (10000), BENCH_SCALE_ESSAYS "
        "(100000; 0 skips it), BENCH_QUICK=1 (same as --quick).",
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
        repeat=_int("BENCH_REPEAT", 1 if quick else 5),
        text_bytes=3 * 1024,
        concurrency=32,
        accept_requests=_int("BENCH_ACCEPT_REQUESTS", 200 if quick else 1000),
        latency_rate=10.0,
        latency_seconds=5.0 if quick else 20.0,
        batch_essays=_int("BENCH_ESSAYS", 500 if quick else 10_000),
        warm_essays=250 if quick else 1000,
        scale_essays=_int("BENCH_SCALE_ESSAYS", 1000 if quick else 100_000, least=0),
        page=250,
        # Enough GETs per loaded window (about 25 s) that p99 is not one of its last few.
        status_rate=20.0,
        status_polls=10_000,
        status_timeout_s=10.0,
        drain_timeout_s=600.0,
    )
