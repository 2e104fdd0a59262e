"""Following a batch: `submit` behind progress bars, from the batch's event stream
(batch_cli/events.py); `status --watch` by polling `GET /v1/batch/{id}/status` (one cheap read
per poll: it asks for a page of one essay, so the API looks up the parent and at most one
chunk)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from batch_cli.api_client import ApiClient, path_part
from batch_cli.errors import INTERRUPTED, ApiRefused, CliError
from batch_cli.events import batch_events
from batch_cli.render import batch_view, status_line

# Final after publishing: what the spellchecked bar counts.
AFTER_PUBLISHING = ("spellchecked", "spellcheck_failed", "spellcheck_timed_out")
# A batch in one of these states takes no more essays (a cancelled one's counts may still
# change until its `finished_at` is set: see `_closed`).
CLOSED_STATES = frozenset({"completed", "cancelled", "failed"})
MAX_UNFINISHED_LISTED = 20
PAGE_LIMIT = 100  # the API's largest page of essays


def status_path(batch_id: str) -> str:
    return f"/v1/batch/{path_part(batch_id)}/status"


def fetch_status(client: ApiClient, batch_id: str, limit: int | None = 1) -> dict[str, Any]:
    """The status with a page of `limit` essays (None: the API's default page)."""
    try:
        return client.get(status_path(batch_id), None if limit is None else {"limit": limit})
    except ApiRefused as exc:
        if exc.status == 404:
            exc.with_hint(f"no batch {batch_id!r} here (or it belongs to another API key)")
        raise


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:>12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}", style="dim"),
        console=console,
    )


@contextlib.contextmanager
def _stop_following_on_ctrl_c(batch_id: str) -> Iterator[None]:
    """Ctrl-C stops following, never the batch; say how to pick it up again."""
    try:
        yield
    except KeyboardInterrupt:
        raise CliError(
            f"stopped following batch {batch_id}; the batch itself goes on",
            INTERRUPTED,
            [f"follow it again with: batch-service status {batch_id} --watch"],
        ) from None


def _polls(
    client: ApiClient, batch_id: str, interval_s: float, done: Callable[[dict], bool]
) -> Iterator[dict[str, Any]]:
    """Each status until (and including) the first that `done` accepts."""
    while True:
        status = fetch_status(client, batch_id)
        yield status
        if done(status):
            return
        time.sleep(interval_s)


def track(
    client: ApiClient,
    batch_id: str,
    progress: Progress,
    *,
    show_published: bool,
    interval_s: float,
) -> dict[str, Any]:
    """Bars for essays stored, published and spellchecked (final after publishing: checked,
    failed or timed out) from the batch's events until it is final or, when it was not
    triggered, every text is stored. Returns the last status (an event's `data`)."""
    stored = progress.add_task("stored", total=None, note="")
    published: TaskID | None = None
    spellchecked: TaskID | None = None
    if show_published:
        published = progress.add_task("published", total=None, note="")
        spellchecked = progress.add_task("spellchecked", total=None, note="")
    status: dict[str, Any] = {}
    with _stop_following_on_ctrl_c(batch_id):
        done = None if show_published else _ready
        for status in batch_events(client, batch_id, done, pause_s=interval_s):
            counts = status["counts"]
            total = counts["total"]
            checked = sum(counts.get(name, 0) for name in AFTER_PUBLISHING)
            progress.update(
                stored,
                total=total,
                completed=counts["stored"] + counts["published"] + checked,
                note=status["state"],
            )
            if published is not None and spellchecked is not None:
                backlog = counts["received"] + counts["stored"]
                progress.update(
                    published,
                    total=total,
                    completed=counts["published"] + checked,
                    note=f"backlog {backlog}" if backlog else "",
                )
                progress.update(spellchecked, total=total, completed=checked)
    return status


def watch(client: ApiClient, batch_id: str, console: Console, interval_s: float) -> dict:
    """On a terminal, the status view redrawn in place after every poll until the batch closes;
    elsewhere (a pipe, a log file) one line per change, then the view."""
    status: dict[str, Any] = {}
    with _stop_following_on_ctrl_c(batch_id):
        if console.is_terminal:
            with Live(console=console, auto_refresh=False) as live:
                for status in _polls(client, batch_id, interval_s, _closed):
                    live.update(batch_view(status), refresh=True)
            return status
        last = None
        for status in _polls(client, batch_id, interval_s, _closed):
            line = status_line(status)
            if line != last:
                console.print(Text(f"{datetime.now():%H:%M:%S} {line}"))
                last = line
        console.print(batch_view(status))
    return status


def watch_json(
    client: ApiClient, batch_id: str, emit: Callable[[Any], None], interval_s: float
) -> dict:
    """One JSON line per change (ages aside) until the batch closes: for scripts and logs."""
    status: dict[str, Any] = {}
    last = None
    with _stop_following_on_ctrl_c(batch_id):
        for status in _polls(client, batch_id, interval_s, _closed):
            seen = json.dumps({**status, "backlog": (status.get("backlog") or {}).get("essays")})
            if seen != last:
                emit(status)
                last = seen
    return status


def _closed(status: dict[str, Any]) -> bool:
    """Closed, with final counts. A cancelled batch says so at once, while its chunks still
    report their last counts: `finished_at` is set when they have. A failed one never will."""
    state = status.get("state")
    return state == "failed" or (state in CLOSED_STATES and status.get("finished_at") is not None)


def _ready(status: dict[str, Any]) -> bool:
    """Every text stored (a batch that was not triggered); a final one ends the stream."""
    return status.get("state") == "ready"


# Final states of essays that did not get through: listed with their reasons, exit code 4.
NOT_THROUGH = ("failed", "cancelled", "spellcheck_failed", "spellcheck_timed_out")


def unfinished(client: ApiClient, batch_id: str, status: dict[str, Any]) -> list[dict]:
    """Up to MAX_UNFINISHED_LISTED essays that failed, timed out or were cancelled, read page
    by page."""
    counts = status.get("counts") or {}
    wanted = min(MAX_UNFINISHED_LISTED, sum(counts.get(state, 0) for state in NOT_THROUGH))
    found: list[dict] = []
    offset: int | None = 0
    while offset is not None and len(found) < wanted:
        page = client.get(status_path(batch_id), {"offset": offset, "limit": PAGE_LIMIT})
        essays = page["essays"]
        found += [e for e in essays["items"] if e["state"] in NOT_THROUGH]
        offset = essays["next_offset"]
    return found[:wanted]
