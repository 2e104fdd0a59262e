"""How statuses look on a terminal. Texts from the API go in as plain `Text`, never as rich
markup, so an id or an error message with brackets in it prints as it is."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

COUNT_STATES = ("received", "stored", "published", "failed", "cancelled")
STATE_STYLES = {
    "completed": "bold green",
    "published": "bold green",
    "spellchecked": "bold green",
    "cancelled": "bold yellow",
    "spellcheck_timed_out": "bold yellow",
    "failed": "bold red",
    "spellcheck_failed": "bold red",
}


def seconds(value: float) -> str:
    """A duration for people: '4.2 s', '3 min 12 s', '2 h 5 min'."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def when(stamp: str | None) -> str | None:
    """An ISO 8601 time from the API, to the second, in its own zone (UTC from this API)."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    zone = "UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return f"{moment:%Y-%m-%d %H:%M:%S} {zone}".strip()


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "bold"))


def counts_line(counts: dict[str, int]) -> str:
    parts = ", ".join(f"{counts.get(s, 0)} {s}" for s in COUNT_STATES)
    return f"{counts.get('total', 0)} total: {parts}"


def backlog_line(backlog: dict[str, Any]) -> str:
    waiting = backlog.get("essays") or 0
    if not waiting:
        return "none: every accepted essay is published (or failed, or cancelled)"
    age = backlog.get("oldest_age_s")
    oldest = f", the oldest accepted {seconds(age)} ago" if age is not None else ""
    return f"{waiting} essays not yet published{oldest}"


def status_line(status: dict[str, Any]) -> str:
    """A batch's status on one line, for logs: 'b-1 storing: 40/100 stored, 0 published, ...'."""
    counts = status.get("counts") or {}
    stored = counts.get("stored", 0) + counts.get("published", 0)
    line = (
        f"{status.get('batch_id')} {status.get('state')}: {stored}/{counts.get('total', 0)}"
        f" stored, {counts.get('published', 0)} published"
    )
    for state in ("failed", "cancelled"):
        if counts.get(state):
            line += f", {counts[state]} {state}"
    backlog = (status.get("backlog") or {}).get("essays")
    return line + (f", backlog {backlog}" if backlog else "")


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    return grid


def batch_view(status: dict[str, Any]) -> Table:
    grid = _grid()
    grid.add_row("Batch", Text(str(status.get("batch_id"))))
    grid.add_row("State", state_text(str(status.get("state"))))
    grid.add_row("Essays", counts_line(status.get("counts") or {}))
    grid.add_row("Backlog", backlog_line(status.get("backlog") or {}))
    for label, key in (
        ("Created", "created_at"),
        ("Triggered", "triggered_at"),
        ("Cancelled", "cancelled_at"),
        ("Finished", "finished_at"),
    ):
        if moment := when(status.get(key)):
            grid.add_row(label, moment)
    if status.get("metadata"):
        grid.add_row("Metadata", Text(json.dumps(status["metadata"], ensure_ascii=False)))
    if status.get("correlation_id"):
        grid.add_row("Correlation id", Text(str(status["correlation_id"])))
    return grid


ESSAY_FIELDS = (
    ("Batch", "batch_id"),
    ("Correlation id", "correlation_id"),
    ("Text storage id", "text_storage_id"),
    ("Event id", "event_id"),
    ("Retrying step", "retrying_step"),
    ("Attempts", "attempts"),
    ("Last error", "last_error"),
    ("Error", "error"),
)


def essay_view(status: dict[str, Any]) -> Table:
    grid = _grid()
    grid.add_row("Essay", Text(str(status.get("essay_id"))))
    grid.add_row("State", state_text(str(status.get("state"))))
    for label, key in ESSAY_FIELDS:
        if status.get(key) is not None:
            grid.add_row(label, Text(str(status[key])))
    return grid


SPELLCHECK_OUTCOMES = ("spellchecked", "spellcheck_failed", "spellcheck_timed_out")


def summary(status: dict[str, Any], elapsed_s: float) -> Text:
    """One line saying how a followed batch ended."""
    counts = status.get("counts") or {}
    total = counts.get("total", 0)
    line = Text(f"Batch {status.get('batch_id')} ")
    line.append_text(state_text(str(status.get("state"))))
    # Once results are followed, published essays move on to a spellcheck outcome.
    out = sum(counts.get(state, 0) for state in ("published", *SPELLCHECK_OUTCOMES))
    line.append(f" after {seconds(elapsed_s)}: {out} of {total} published")
    if any(counts.get(state) for state in SPELLCHECK_OUTCOMES):
        line.append(f", {counts.get('spellchecked', 0)} spellchecked")
    for state in ("spellcheck_failed", "spellcheck_timed_out", "failed", "cancelled"):
        if counts.get(state):
            line.append(f", {counts[state]} {state}", style=STATE_STYLES[state])
    line.append(".")
    return line


def unfinished_essays(items: list[dict[str, Any]]) -> Table:
    """Essays that will not be published, with why (failed ones carry the API's error)."""
    table = Table("essay", "state", "error", show_edge=False, pad_edge=False)
    for item in items:
        table.add_row(
            Text(str(item.get("essay_id"))),
            state_text(str(item.get("state"))),
            Text(str(item.get("error") or "")),
        )
    return table
