"""Percentiles and summaries with the standard library (numpy is not a dependency here)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated between the closest ranks; NaN when empty."""
    if not values:
        return math.nan
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p99(values: Sequence[float]) -> float:
    return percentile(values, 99)


def ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max over repetitions (NaNs, from failed repetitions, left out)."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return {"median": math.nan, "min": math.nan, "max": math.nan}
    return {"median": statistics.median(kept), "min": min(kept), "max": max(kept)}
