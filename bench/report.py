"""Turn raw results into the table's rows, print them, and write the JSON (and the chart)."""

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
OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}


@dataclass
class Row:
    name: str
    unit: str
    ours: float  # median over repetitions
    other: float  # the comparison arm's median, or the limit an absolute target is held to
    other_label: str
    ratio: float  # median of the per-repetition ratios (paired: same repetition, same noise)
    ratio_min: float
    ratio_max: float
    op: str
    target: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and not math.isnan(self.ratio)
            and OPS[self.op](self.ratio, self.target)
        )

    @property
    def verdict(self) -> str:
        return "ERROR" if self.error else ("PASS" if self.passed else "FAIL")


def _median(reps: list[dict], *path: str) -> float:
    values = []
    for rep in reps:
        value = rep
        for key in path:
            value = value.get(key, math.nan) if isinstance(value, dict) else math.nan
        values.append(value)
    return stats.spread(values)["median"]


def _ratio_row(name, unit, reps, ours, other, label, ratio_key, op, target) -> Row:
    spread = stats.spread([rep.get(ratio_key, math.nan) for rep in reps])
    return Row(
        name,
        unit,
        _median(reps, *ours),
        _median(reps, *other),
        label,
        spread["median"],
        spread["min"],
        spread["max"],
        op,
        target,
    )


def _limit_row(name, unit, values, limit, label) -> Row:
    ratios = stats.spread([v / limit for v in values])
    return Row(
        name,
        unit,
        stats.spread(values)["median"],
        limit,
        label,
        ratios["median"],
        ratios["min"],
        ratios["max"],
        "<=",
        1.0,
    )


def _error_rows(names: list[str], error: str) -> list[Row]:
    nan = math.nan
    return [Row(n, "", nan, nan, "", nan, nan, nan, "", nan, error) for n in names]


def build_rows(results: dict, rss: dict) -> list[Row]:
    rows: list[Row] = []
    if "B1" in results:
        b1 = results["B1"]
        if "error" in b1:
            rows += _error_rows(["B1 accept rate"], b1["error"])
        else:
            rows.append(
                _ratio_row(
                    "B1 accept rate", "/s", b1["reps"], ("api", "rate_per_s"),
                    ("sdk", "rate_per_s"), "SDK", "ratio", ">=", 0.9,
                )
            )  # fmt: skip
    if "B2" in results:
        b2 = results["B2"]
        names = ["B2a 202 p50", "B2b event p50", "B2c event p99"]
        if "error" in b2:
            rows += _error_rows(names, b2["error"])
        else:
            reps = b2["reps"]
            rows.append(
                _ratio_row(
                    names[0], "ms", reps, ("ours", "response_p50_ms"),
                    ("baseline", "response_p50_ms"), "old service", "response_ratio", "<=", 2.0,
                )
            )  # fmt: skip
            rows.append(
                _ratio_row(
                    names[1], "ms", reps, ("ours", "event_p50_ms"),
                    ("baseline", "event_p50_ms"), "old service", "event_ratio", "<=", 5.0,
                )
            )  # fmt: skip
            p99s = [rep["ours"]["event_p99_ms"] for rep in reps]
            rows.append(_limit_row(names[2], "ms", p99s, EVENT_P99_LIMIT_MS, "limit"))
    if "B3" in results:
        rows += _b3_rows(results["B3"])
    if rss:
        for name, limit in (("worker", WORKER_RSS_LIMIT_MIB), ("api", API_RSS_LIMIT_MIB)):
            if name in rss:
                rows.append(
                    _limit_row(
                        f"B4 {name} peak RSS (tree sum)",
                        "MiB",
                        [rss[name]["sum_mib"]],
                        limit,
                        "limit",
                    )
                )
    return rows


def _b3_rows(b3: dict) -> list[Row]:
    if "error" in b3:
        return _error_rows(["B3 batch"], b3["error"])
    reps, rows = b3["reps"], []
    if any("naive_ratio" in r for r in reps):
        rows.append(
            _ratio_row(
                "B3 batch vs naive", "essays/s", reps, ("ours", "essays_per_s"),
                ("naive", "essays_per_s"), "naive", "naive_ratio", ">=", 10.0,
            )
        )  # fmt: skip
    if any("ceiling_ratio" in r for r in reps):
        rows.append(
            _ratio_row(
                "B3 batch vs ceiling", "essays/s", reps, ("ours", "essays_per_s"),
                ("ceiling", "essays_per_s"), "ceiling", "ceiling_ratio", ">=", 0.5,
            )
        )  # fmt: skip
    if any("status_ratio" in r for r in reps):
        rows.append(
            _ratio_row(
                "B4 status p99", "ms", reps, ("ours", "status_loaded", "p99_ms"),
                ("ours", "status_idle", "p99_ms"), "idle", "status_ratio", "<=", 5.0,
            )
        )  # fmt: skip
        failures = [
            rep["ours"][window]["timeouts"] + rep["ours"][window]["server_errors"]
            for rep in reps
            for window in ("status_loaded", "status_idle")
        ]
        total = float(sum(failures))
        rows.append(
            Row("B4 timeouts+5xx", "", total, 0.0, "target", total, total, total, "==", 0.0)
        )
    return rows


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _ratio_text(row: Row) -> str:
    """Two decimals, or three where two would round onto the target and hide which side of it
    the ratio is (a B1 median of 0.898 printed as 0.90 beside FAIL)."""
    digits = 3 if round(row.ratio, 2) == row.target and row.ratio != row.target else 2
    return f"{_fmt(row.ratio, digits)} ({_fmt(row.ratio_min, 2)}-{_fmt(row.ratio_max, 2)})"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "ours", "comparison", "ratio (min-max)", "target", "result")
    lines = [header]
    for r in rows:
        if r.error:
            lines.append((r.name, "-", "-", "-", "-", "ERROR"))
            continue
        lines.append(
            (
                r.name,
                f"{_fmt(r.ours)} {r.unit}".strip(),
                f"{_fmt(r.other)} {r.unit} ({r.other_label})".strip(),
                _ratio_text(r),
                f"{r.op} {_fmt(r.target, 2)}",
                r.verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    errors = [f"{r.name}: {r.error}" for r in rows if r.error]
    return "\n".join(out + errors)


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
