"""The PNG: B3's events over time, a panel per arm (each on its own time scale: the single-essay
path takes many times longer), with the end of each arm's upload marked; and the run at scale
beside them when there was one."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot's import
import matplotlib.pyplot as plt  # noqa: E402

from bench.report import ARM_LABELS  # noqa: E402


def _panel(ax, run: dict, title: str) -> None:
    seconds = [0.0] + [point[0] for point in run["curve"]]
    events = [0] + [point[1] for point in run["curve"]]
    ax.plot(seconds, events)
    # Where its last page (or, for single essays, its last POST) was answered.
    upload = run["accepted_s"]
    reached = max([e for s, e in zip(seconds, events, strict=True) if s <= upload], default=0)
    ax.plot([upload], [reached], marker="o", color="tab:red")
    ax.set_title(f"{title}: {run['essays_per_s']:,.0f} essays/s", fontsize=9)
    ax.set_xlabel("s since the first POST", fontsize=8)
    ax.set_ylabel("events read", fontsize=8)
    ax.grid(alpha=0.3)


def draw(results: dict, out_dir: Path, stamp: str, title: str) -> Path | None:
    """bench-<stamp>.png and latest.png: one panel per arm of B3's last repetition, and the run
    at scale; None when B3 finished no repetition."""
    b3 = results.get("B3", {})
    reps = b3.get("reps", [])
    if not reps:
        return None
    rep = reps[-1]
    panels = [(label, rep[arm]) for arm, label in ARM_LABELS.items() if arm in rep]
    if "scale" in b3:
        panels.append((f"{ARM_LABELS['ours']}, {b3['scale']['essays']:,} once", b3["scale"]))
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, (label, run) in zip(axes.flat, panels, strict=False):
        _panel(ax, run, label)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    n = panels[0][1]["essays"]
    fig.suptitle(
        f"{title}: events over time, {n:,} essays, repetition {len(reps)} (dot: upload answered)",
        fontsize=10,
    )
    fig.tight_layout()
    path = out_dir / f"bench-{stamp}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    shutil.copyfile(path, out_dir / "latest.png")
    return path
