"""Turn raw results into the table's rows, print them, and write the JSON.

Every row is judged on the median over repetitions and shows a 95% interval beside it
(`stats.spread`). A row without a target is shown for what it says and judged on nothing.
"""

from __future__ import annotations

import json
import math
import operator
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import stats

WORKER_RSS_LIMIT_MIB = 300.0
API_RSS_LIMIT_MIB = 150.0
EVENT_P99_LIMIT_MS = 1000.0
STATUS_P99_LIMIT_MS = 100.0
BATCH_CPU_LIMIT_MS = 3.0
OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}
NAN = math.nan
# The processes of the cost table, in its column order; an arm's own service stands in "api".
COST_COLUMNS = ("api", "worker", "temporal", "broker", "content")
# What each arm has made durable when it answers 202: stated beside the figures.
DURABILITY = {
    "ours": "the Temporal dev server's SQLite commit (WAL, synchronous=NORMAL: written, not "
    "fsynced; survives the process, not a power cut)",
    "outbox": "its own SQLite commit, fsynced (WAL, synchronous=FULL)",
    "old service": "the content store's fsynced file and the broker's acknowledgement (acks=all); "
    "an essay is lost when either fails",
    "ceiling": "nothing (in memory until sent)",
}
ARM_LABELS = {
    "ours": "ours, batch",
    "single": "ours, single essays",
    "outbox": "outbox",
    "ceiling": "ceiling",
}


@dataclass
class Row:
    name: str
    unit: str
    ours: float  # median over repetitions
    other: float  # the comparison arm's median, or the limit an absolute target is held to
    other_label: str
    ratio: float  # median of the per-repetition ratios (paired: same repetition, same noise)
    low: float  # the ratio's 95% interval
    high: float
    op: str  # "" for a row shown without a target
    target: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and bool(self.op)
            and not math.isnan(self.ratio)
            and OPS[self.op](self.ratio, self.target)
        )

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if not self.op:
            return "-"
        return "PASS" if self.passed else "FAIL"


def _get(rep: dict, path: tuple[str, ...]) -> float:
    value = rep
    for key in path:
        value = value.get(key, NAN) if isinstance(value, dict) else NAN
    return value if isinstance(value, int | float) else NAN


def _median(reps: list[dict], path: tuple[str, ...]) -> float:
    return stats.spread([_get(rep, path) for rep in reps])["median"]


def _ratio_row(name, unit, reps, ours, other, label, ratio_key, op="", target=NAN) -> Row:
    spread = stats.spread([rep.get(ratio_key, NAN) for rep in reps])
    return Row(
        name,
        unit,
        _median(reps, ours),
        _median(reps, other),
        label,
        spread["median"],
        spread["low"],
        spread["high"],
        op,
        target,
    )


def _limit_row(name, unit, values, limit, op="<=") -> Row:
    """An absolute figure held to `limit`: its ratio is value / limit."""
    ratios = stats.spread([v / limit for v in values])
    return Row(
        name,
        unit,
        stats.spread(values)["median"],
        limit,
        "limit",
        ratios["median"],
        ratios["low"],
        ratios["high"],
        op,
        1.0,
    )


def _info_row(name, unit, values) -> Row:
    """An absolute figure with no target."""
    spread = stats.spread(values)
    return Row(name, unit, spread["median"], NAN, "", NAN, spread["low"], spread["high"], "", NAN)


def _error_rows(names: list[str], error: str) -> list[Row]:
    return [Row(n, "", NAN, NAN, "", NAN, NAN, NAN, "", NAN, error) for n in names]


def build_rows(results: dict) -> list[Row]:
    rows: list[Row] = []
    if "B1" in results:
        rows += _b1_rows(results["B1"])
    if "B2" in results:
        rows += _b2_rows(results["B2"])
    if "B3" in results:
        rows += _b3_rows(results["B3"])
    return rows


def _b1_rows(b1: dict) -> list[Row]:
    names = ["B1 accept rate ÷ SDK starts", "B1 accept rate ÷ outbox"]
    if "error" in b1:
        return _error_rows(names, b1["error"])
    reps, rate = b1["reps"], ("api", "rate_per_s")
    return [
        _ratio_row(names[0], "/s", reps, rate, ("sdk", "rate_per_s"), "SDK", "ratio"),
        _ratio_row(names[1], "/s", reps, rate, ("outbox", "rate_per_s"), "outbox", "outbox_ratio"),
    ]


def _b2_rows(b2: dict) -> list[Row]:
    names = [
        "B2a 202 p50 ÷ outbox",
        "B2b event p50 ÷ outbox",
        "B2c event p99",
        "B2 202 p50 ÷ old service",
        "B2 event p50 ÷ old service",
    ]
    if "error" in b2:
        return _error_rows(names, b2["error"])
    reps = b2["reps"]
    response, event = ("ours", "response_p50_ms"), ("ours", "event_p50_ms")
    return [
        _ratio_row(
            names[0], "ms", reps, response, ("outbox", "response_p50_ms"), "outbox",
            "outbox_response_ratio",
        ),
        _ratio_row(
            names[1], "ms", reps, event, ("outbox", "event_p50_ms"), "outbox",
            "outbox_event_ratio", "<=", 5.0,
        ),
        _limit_row(names[2], "ms", [r["ours"]["event_p99_ms"] for r in reps], EVENT_P99_LIMIT_MS),
        _ratio_row(
            names[3], "ms", reps, response, ("baseline", "response_p50_ms"), "old service",
            "baseline_response_ratio",
        ),
        _ratio_row(
            names[4], "ms", reps, event, ("baseline", "event_p50_ms"), "old service",
            "baseline_event_ratio",
        ),
    ]  # fmt: skip


def _b3_rows(b3: dict) -> list[Row]:
    if not b3.get("reps"):
        return _error_rows(["B3 batch"], b3.get("error", "no repetition finished"))
    reps, rows = b3["reps"], []
    rate = ("ours", "essays_per_s")
    for arm, label, op, target in (
        ("ceiling", "ceiling", ">=", 0.6),
        ("outbox", "outbox", ">=", 0.6),
        ("single", "single essays", ">=", 5.0),
    ):
        if any(f"{arm}_ratio" in r for r in reps):
            rows.append(
                _ratio_row(
                    f"B3 batch ÷ {label}", "essays/s", reps, rate, (arm, "essays_per_s"), label,
                    f"{arm}_ratio", op, target,
                )
            )  # fmt: skip
    cpu = [r["ours"]["stack_cpu_ms_per_essay"] for r in reps if "ours" in r]
    if cpu:
        rows.append(_limit_row("B3 CPU per batch essay", "ms", cpu, BATCH_CPU_LIMIT_MS))
    single = [r["single"]["stack_cpu_ms_per_essay"] for r in reps if "single" in r]
    if single:
        rows.append(_info_row("B3 CPU per single essay", "ms", single))
    if "scale" in b3:
        scale = b3["scale"]
        n = f"{scale['essays']:,}"
        rows.append(
            Row(
                f"B3 at {n} ÷ the median rate", "essays/s", scale["essays_per_s"],
                _median(reps, rate), "repetitions", scale["ratio"], NAN, NAN, ">=", 0.9,
            )
        )  # fmt: skip
    windows = [r["b4"]["status"] for r in reps if "b4" in r]
    if windows:
        loaded = [w["api"]["p99_ms"] for w in windows]
        rows.append(_limit_row("B4 status p99 under load", "ms", loaded, STATUS_P99_LIMIT_MS))
        rows.append(
            _info_row(
                "B4 status p99, cache off", "ms", [w["api-nocache"]["p99_ms"] for w in windows]
            )
        )
        failures = float(
            sum(s["timeouts"] + s["server_errors"] for w in windows for s in w.values())
        )
        rows.append(
            Row("B4 timeouts+5xx", "", failures, 0.0, "target", failures, NAN, NAN, "==", 0.0)
        )
    peaks = b3.get("peak_rss_mib", {})
    for name, limit in (("worker", WORKER_RSS_LIMIT_MIB), ("api", API_RSS_LIMIT_MIB)):
        if name in peaks:
            n = f"{batch_size(reps):,}"
            rows.append(_limit_row(f"{name} peak RSS at {n}", "MiB", [peaks[name]], limit))
    return rows


def batch_size(reps: list[dict]) -> int:
    """The repetitions' batch size (every arm's, B4's run's too)."""
    return next(r[arm]["essays"] for r in reps for arm in (*ARM_LABELS, "b4") if arm in r)


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _ratio_text(row: Row) -> str:
    """Two decimals, or three where two would round onto the target and hide which side of it
    the ratio is (a B1 median of 0.898 printed as 0.90 beside FAIL); the 95% interval after."""
    if math.isnan(row.ratio) and row.op == "":  # an absolute figure: its own interval
        return f"[{_fmt(row.low, 1)}, {_fmt(row.high, 1)}]" if not math.isnan(row.low) else ""
    digits = 3 if round(row.ratio, 2) == row.target and row.ratio != row.target else 2
    interval = "" if math.isnan(row.low) else f" [{_fmt(row.low, 2)}, {_fmt(row.high, 2)}]"
    return f"{_fmt(row.ratio, digits)}{interval}"


def _markdown(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    out = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        for line in [header, *lines]
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (it reads as plain text too)."""
    header = ("benchmark", "ours", "comparison", "ratio [95% interval]", "target", "result")
    lines = []
    for r in rows:
        if r.error:
            lines.append((r.name, "-", "-", "-", "-", "ERROR"))
            continue
        other = "" if math.isnan(r.other) else f"{_fmt(r.other)} {r.unit} ({r.other_label})"
        lines.append(
            (
                r.name,
                f"{_fmt(r.ours)} {r.unit}".strip(),
                other.strip(),
                _ratio_text(r),
                f"{r.op} {_fmt(r.target, 2)}" if r.op else "",
                r.verdict,
            )
        )
    errors = [f"{r.name}: {r.error}" for r in rows if r.error]
    return "\n".join([_markdown(header, lines), *errors])


def cost_table(results: dict) -> str:
    """B3's arms: essays/s and CPU ms per essay of each process (medians), and peak memory."""
    b3 = results.get("B3", {})
    reps = b3.get("reps", [])
    if not reps:
        return ""
    header = ("B3 arm", "essays/s [95%]", *COST_COLUMNS, "stack total", "load generator")
    lines = []
    runs = [(arm, [r[arm] for r in reps if arm in r]) for arm in ARM_LABELS]
    if "scale" in b3:
        runs.append((f"ours, batch of {b3['scale']['essays']:,}", [b3["scale"]]))
    for arm, arm_reps in runs:
        if not arm_reps:
            continue
        rate = stats.spread([r["essays_per_s"] for r in arm_reps])
        interval = "" if math.isnan(rate["low"]) else f" [{rate['low']:,.0f}, {rate['high']:,.0f}]"
        cells = []
        for column in COST_COLUMNS:
            # The peer arms' own service does what the API and the worker do for ours.
            name = arm if column == "api" and arm in ("outbox", "ceiling") else column
            values = [r["cpu_ms_per_essay"].get(name, NAN) for r in arm_reps]
            cells.append(
                _fmt(stats.spread(values)["median"], 2)
                if name in arm_reps[0]["cpu_ms_per_essay"]
                else ""
            )
        total = stats.spread([r["stack_cpu_ms_per_essay"] for r in arm_reps])["median"]
        load = stats.spread([r["cpu_ms_per_essay"]["load generator"] for r in arm_reps])["median"]
        lines.append(
            (
                ARM_LABELS.get(arm, arm),
                f"{rate['median']:,.0f}{interval}",
                *cells,
                _fmt(total, 2),
                _fmt(load, 2),
            )
        )
    out = [
        "CPU ms per essay (medians); an outbox's or ceiling's own service is under api.",
        _markdown(header, lines),
    ]
    peaks, scale = b3.get("peak_rss_mib", {}), b3.get("scale", {}).get("peak_rss_mib", {})
    if peaks:
        n = f"{batch_size(reps):,}"
        memory_header = ("peak RSS, MiB", *peaks)
        memory = [(f"repetitions ({n})", *(_fmt(v, 0) for v in peaks.values()))]
        if scale:
            memory.append(
                (
                    f"batch of {b3['scale']['essays']:,}",
                    *(_fmt(scale.get(k, NAN), 0) for k in peaks),
                )
            )
        out += ["", _markdown(memory_header, memory)]
    return "\n".join(out)


def durability() -> str:
    return "Durable at the 202:\n" + "\n".join(
        f"- {arm}: {what}" for arm, what in DURABILITY.items()
    )


def _clean(value):
    """JSON has no NaN: write null instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def row_json(row: Row) -> dict:
    return {**asdict(row), "result": row.verdict}


def write(out_dir: Path, stamp: str, document: dict) -> Path:
    """bench-<stamp>.json, and latest.json beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{stamp}.json"
    path.write_text(json.dumps(_clean(document), indent=2) + "\n")
    shutil.copyfile(path, out_dir / "latest.json")
    return path
