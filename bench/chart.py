"""The PNG: each benchmark's ratio (median, min-max whiskers) beside its target."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot's import
import matplotlib.pyplot as plt  # noqa: E402

from bench.report import Row  # noqa: E402


def draw(rows: list[Row], out_dir: Path, stamp: str, title: str) -> Path | None:
    """bench-<stamp>.png and latest.png; None when no row has a ratio to draw."""
    drawn = [r for r in rows if not r.error and r.ratio > 0 and r.target > 0]
    if not drawn:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(drawn) + 1.6))
    ys = range(len(drawn))
    for y, row in zip(ys, drawn, strict=True):
        color = "tab:green" if row.passed else "tab:red"
        low, high = row.ratio - row.ratio_min, row.ratio_max - row.ratio
        ax.barh(y, row.ratio, color=color, alpha=0.75, height=0.6)
        ax.errorbar(row.ratio, y, xerr=[[max(low, 0)], [max(high, 0)]], fmt="none", ecolor="k")
        ax.plot([row.target] * 2, [y - 0.4, y + 0.4], color="k", linewidth=2.5)
        ax.annotate(
            f"{row.ratio:.2f} (target {row.op} {row.target:g})",
            (max(row.ratio, row.target), y),
            xytext=(6, -3),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_yticks(list(ys), [r.name for r in drawn])
    ax.invert_yaxis()
    ax.set_xscale("log")
    values = [v for r in drawn for v in (r.ratio_min, r.ratio_max, r.target) if v > 0]
    ax.set_xlim(min(values) / 2, max(values) * 6)
    ax.set_xlabel("ratio, ours / comparison (log scale); black bar: target; whiskers: min-max")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    path = out_dir / f"bench-{stamp}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    shutil.copyfile(path, out_dir / "latest.png")
    return path
