"""The bench's table and statistics: a ratio next to its target shows which side of it it is,
its 95% interval beside it, and rows without a target judge nothing."""

import math
import statistics

from bench import stats
from bench.report import Row, table


def _row(ratio: float, op: str = ">=") -> Row:
    return Row("B1 accept rate", "/s", 169.1, 198.5, "SDK", ratio, 0.83, 0.92, op, 0.9)


def test_a_ratio_that_would_round_onto_its_target_gets_a_third_decimal():
    line = table([_row(0.8984)]).splitlines()[2]
    assert "0.898 [0.83, 0.92]" in line
    assert line.rstrip(" |").endswith("FAIL")


def test_other_ratios_keep_two_decimals():
    assert "0.93 [0.83, 0.92]" in table([_row(0.9312)])
    assert "0.90 [0.83, 0.92]" in table([_row(0.9)])


def test_a_row_without_a_target_is_neither_passed_nor_failed():
    row = _row(0.5, op="")
    assert not row.passed
    assert row.verdict == "-"


def test_the_interval_is_students_t_on_the_logarithms():
    # Five ratios whose logarithms are -0.1, -0.05, 0, 0.05, 0.1: mean 0, sd 0.0791.
    values = [math.exp(x) for x in (-0.1, -0.05, 0.0, 0.05, 0.1)]
    spread = stats.spread(values)
    half = 2.776 * statistics.stdev([math.log(v) for v in values]) / math.sqrt(5)
    assert spread["median"] == 1.0
    assert math.isclose(spread["low"], math.exp(-half), rel_tol=1e-9)
    assert math.isclose(spread["high"], math.exp(half), rel_tol=1e-9)


def test_one_value_or_a_failed_repetition_gives_no_interval_but_keeps_the_median():
    assert math.isnan(stats.spread([2.0])["low"])
    spread = stats.spread([2.0, math.nan, 4.0])
    assert spread["median"] == 3.0
    assert spread["n"] == 2
    assert spread["low"] < 2.0 < 4.0 < spread["high"]
