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


# Student's t, two-sided 95%, by degrees of freedom.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def _t95(df: int) -> float:
    # Beyond the table, the normal quantile with its first correction for t (within 1%).
    return _T95.get(df) or 1.96 + (1.96**3 + 1.96) / (4 * df)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Over repetitions (NaNs, from failed repetitions, left out): the median, the min and max,
    and a 95% interval.

    The interval is Student's t on the logarithms: these figures are rates, times and their
    ratios, which vary by factors, so it is an interval for their geometric mean, the typical
    value. With fewer than two values, or any not above zero, it is NaN.
    """
    kept = [v for v in values if not math.isnan(v)]
    nan = math.nan
    if not kept:
        return {"median": nan, "min": nan, "max": nan, "low": nan, "high": nan, "n": 0}
    low = high = nan
    if len(kept) >= 2 and min(kept) > 0:
        logs = [math.log(v) for v in kept]
        half = _t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
        centre = statistics.fmean(logs)
        low, high = math.exp(centre - half), math.exp(centre + half)
    return {
        "median": statistics.median(kept),
        "min": min(kept),
        "max": max(kept),
        "low": low,
        "high": high,
        "n": len(kept),
    }
