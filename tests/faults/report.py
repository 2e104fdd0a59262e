"""The fault suite's table: one row per scenario, counted from the topic.

Rows are printed as each scenario ends (visible with `-s`), again together in pytest's terminal
summary, and written to `.state/faults/latest.md` (git-ignored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from devstack.components import REPO_ROOT

RESULTS = REPO_ROOT / ".state" / "faults" / "latest.md"

HEADER = (
    "| scenario | essays (single + batch) | accepted | refused (503) | published | duplicates "
    "| of which not byte-identical | lost | outage (s) | scenario (s) |"
)
RULE = "|---|---|---|---|---|---|---|---|---|---|"


@dataclass(frozen=True)
class Row:
    scenario: str
    singles: int
    batched: int
    accepted: int
    refused: int
    published: int  # accepted essays whose event (by event_id) was read
    duplicates: int  # copies read after an event's first
    unlike: int  # duplicates that are not byte-identical to the first copy
    lost: int  # accepted essays whose event never arrived
    outage_s: float  # how long the broken part was down (summed over the scenario's faults)
    seconds: float

    def markdown(self) -> str:
        return (
            f"| {self.scenario} | {self.singles + self.batched} ({self.singles} + {self.batched}) "
            f"| {self.accepted} | {self.refused} | {self.published} | {self.duplicates} "
            f"| {self.unlike} | {self.lost} | {self.outage_s:.0f} | {self.seconds:.0f} |"
        )


ROWS: list[Row] = []


def record(row: Row) -> None:
    ROWS.append(row)
    print(f"\n{HEADER}\n{RULE}\n{row.markdown()}")


def table() -> list[str]:
    return [HEADER, RULE, *(row.markdown() for row in ROWS)]


def write(path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    path.write_text(f"Fault suite, {stamp}\n\n" + "\n".join(table()) + "\n")
    return path
