"""The PNG: B3's events over time, one line per arm, with the end of each arm's upload marked;
and the run at scale beside it when there was one."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot's import
import matplotlib.pyplot as plt  # noqa: E402

from bench.report import ARM_LABELS  # noqa: E402


def _line(ax, run: dict, label: str) -> None:
    seconds = [0.0] + [point[0] for point in run["curve"]]
    events = [0] + [point[1] for point in run["curve"]]
    (drawn,) = ax.plot(seconds, events, label=f"{label}: {run['essays_per_s']:,.0f} essays/s")
    # Where its last page (or, for single essays, its last POST) was answered.
    upload = run["accepted_s"]
    reached = max([e for s, e in zip(seconds, events, strict=True) if s <= upload], default=0)
    ax.plot([upload], [reached], marker="o", color=drawn.get_color())


def draw(results: dict, out_dir: Path, stamp: str, title: str) -> Path | None:
    """bench-<stamp>.png and latest.png; None when B3 finished no repetition."""
    b3 = results.get("B3", {})
    reps = b3.get("reps", [])
    if not reps:
        return None
    scale = b3.get("scale")
    fig, axes = plt.subplots(1, 2 if scale else 1, figsize=(13 if scale else 7.5, 4.8))
    axes = list(axes) if scale else [axes]
    rep = reps[-1]
    for arm, label in ARM_LABELS.items():
        if arm in rep:
            _line(axes[0], rep[arm], label)
    n = next(iter(rep[a] for a in ARM_LABELS if a in rep))["essays"]
    axes[0].set_title(f"{n:,} essays, repetition {len(reps)}", fontsize=10)
    if scale:
        _line(axes[1], scale, ARM_LABELS["ours"])
        axes[1].set_title(f"{scale['essays']:,} essays, once", fontsize=10)
    for ax in axes:
        ax.set_xlabel("seconds since the first POST (dot: the upload answered)")
        ax.set_ylabel("events read")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = out_dir / f"bench-{stamp}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    shutil.copyfile(path, out_dir / "latest.png")
    return path
