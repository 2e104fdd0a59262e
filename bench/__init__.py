"""Side-by-side benchmarks: `make bench`, or `python -m bench [B1..B4] [--quick]`.

Machines are shared and noisy, so every target is a ratio of two arms measured in the same run,
driven from this one load-generator process against one stack started for the run; each
benchmark is repeated (BENCH_REPEAT, default 3) and the median of the per-repetition ratios is
reported. Results go to bench/results/ (JSON with every raw number, and a PNG chart).
"""
