"""The bench's printed table: a ratio next to its target shows which side of it it is."""

from bench.report import Row, table


def _row(ratio: float) -> Row:
    return Row("B1 accept rate", "/s", 169.1, 198.5, "SDK", ratio, 0.83, 0.92, ">=", 0.9)


def test_a_ratio_that_would_round_onto_its_target_gets_a_third_decimal():
    line = table([_row(0.8984)]).splitlines()[2]
    assert "0.898 (0.83-0.92)" in line
    assert line.rstrip().endswith("FAIL")


def test_other_ratios_keep_two_decimals():
    assert "0.93 (0.83-0.92)" in table([_row(0.9312)])
    assert "0.90 (0.83-0.92)" in table([_row(0.9)])
