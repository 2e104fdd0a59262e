"""Where B4's slow loaded GETs spent their time: before the API had them, inside it, or after.

    .venv/bin/python -m bench.explain_b4 [bench/results/bench-<stamp>.json] [--over MS]

Each of the probe's GETs carries `X-Correlation-ID: probe-<n>`, which the API's access log
records with `duration_ms` (from the parsed request to the sent answer) and the time the line
was written. Set beside when the GET was due and how long the probe waited for it:

- late: from when it was due until the probe sent it (the probe waited for a CPU); results
  made before the probe recorded it count this in "before";
- before: from then until the API began on it (the API's event loop was busy, or its process
  waited for a CPU);
- inside: the API's own time on it;
- after: from the API's answer until the probe had read it (the probe waited for a CPU).

The access line is written just after the answer is sent, so "after" can be a little negative.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from bench.status_probe import CORRELATION_PREFIX

DEFAULT_RESULTS = Path("bench/results/latest.json")
DEFAULT_OVER_MS = 20.0


def _access_lines(log: Path) -> dict[tuple[str, str], dict]:
    """The API's access lines of probe GETs, by (path, correlation id)."""
    lines = {}
    with log.open() as file:
        for raw in file:
            if CORRELATION_PREFIX not in raw or not raw.startswith("{"):
                continue
            line = json.loads(raw)
            if str(line.get("correlation_id", "")).startswith(CORRELATION_PREFIX):
                lines[(line["path"], line["correlation_id"])] = line
    return lines


def explain(results: dict, over_ms: float) -> list[str]:
    access = _access_lines(Path(results["logs"]) / "api.log")
    out = []
    for number, rep in enumerate(results["results"]["B3"]["reps"], start=1):
        ours = rep.get("b4")  # B4's run of our batch, one per repetition of B3
        if ours is None:
            continue
        path = f"/v1/batch/{ours['batch_id']}/status"
        tally = {"late": 0, "before": 0, "inside": 0, "after": 0}
        out.append(f"repetition {number}: {path}, loaded GETs over {over_ms:g} ms")
        for index, due, latency_ms, *sent_late in ours["status"]["api"]["gets"]:
            line = access.get((path, f"{CORRELATION_PREFIX}{index}"))
            if latency_ms <= over_ms or line is None:
                continue
            late_ms = sent_late[0] if sent_late else 0.0
            answered_ms = (datetime.fromisoformat(line["time"]).timestamp() - due) * 1000
            parts = {
                "late": late_ms,
                "before": answered_ms - line["duration_ms"] - late_ms,
                "inside": line["duration_ms"],
                "after": latency_ms - answered_ms,
            }
            tally[max(parts, key=parts.get)] += 1
            out.append(
                f"  GET {index:3}: {latency_ms:6.1f} ms = "
                + " + ".join(f"{name} {ms:5.1f}" for name, ms in parts.items())
            )
        out.append("  mostly " + ", ".join(f"{name}: {n}" for name, n in tally.items()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.explain_b4", description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--over", type=float, default=DEFAULT_OVER_MS, help="ms; default 20")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    reps = results.get("results", {}).get("B3", {}).get("reps", [])
    windows = [rep["b4"]["status"]["api"] for rep in reps if "b4" in rep]
    if not windows:
        raise SystemExit(f"{args.results}: no B4 in these results")
    if not all("gets" in window for window in windows):
        raise SystemExit(f"{args.results}: made before the probe recorded each GET")
    print("\n".join(explain(results, args.over)))


if __name__ == "__main__":
    main()
