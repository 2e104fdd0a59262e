"""`batch-service submit PATH`: a folder of essays as one batch, followed until all are final."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from batch_cli import follow, render
from batch_cli.api_client import ApiClient
from batch_cli.errors import NOT_ALL_PUBLISHED
from batch_cli.essay_files import EssayFolder, read_essays
from batch_cli.options import (
    DEFAULT_API_URL,
    ApiKey,
    ApiUrl,
    RetryFor,
    Timeout,
    connect,
)
from batch_cli.output import consoles, reporting
from batch_cli.pages import MAX_ESSAYS_PER_REQUEST, MAX_REQUEST_BYTES, plan_pages
from batch_cli.upload import trigger, upload


def submit(
    path: Annotated[
        Path, typer.Argument(help="A .txt essay, or a folder of them (one essay per file).")
    ],
    batch_id: Annotated[
        str | None,
        typer.Option(help="The batch's id (default: the API makes one). Re-run with it to resume."),
    ] = None,
    do_trigger: Annotated[
        bool, typer.Option("--trigger/--no-trigger", help="Request the spellcheck once sent.")
    ] = True,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the batch until it is done.")
    ] = True,
    page_essays: Annotated[
        int, typer.Option(min=1, help="Most essays per request (the API's MAX_BATCH_ESSAYS).")
    ] = MAX_ESSAYS_PER_REQUEST,
    page_bytes: Annotated[
        int,
        typer.Option(min=1024, help="Most bytes per request (the API's MAX_BATCH_REQUEST_BYTES)."),
    ] = MAX_REQUEST_BYTES,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.1,
            help="Seconds before a dropped event stream is opened again (the batch's progress "
            "comes as the API sends it).",
        ),
    ] = 1.0,
    api_url: ApiUrl = DEFAULT_API_URL,
    api_key: ApiKey = None,
    timeout: Timeout = 30.0,
    retry_for: RetryFor = 60.0,
) -> None:
    """Send essays as one batch, trigger it and show its progress until every essay is final.

    Each .txt file is one essay; its id is the file name without .txt, changed where needed to
    fit the API's rules (letters, digits, '.', '_', '-'; at most 64). Exit codes: 0 all
    published (and spellchecked, where results are followed), 1 the API refused, 2 bad input,
    3 API unreachable, 4 some essays failed, were cancelled, or their spellcheck failed or
    timed out, 130 interrupted.
    """
    out, err = consoles()
    with reporting(err):
        folder = read_essays(path)
        pages = plan_pages(folder.essays, page_essays, page_bytes)
        _describe_input(out, path, folder)
        with connect(api_url, api_key, timeout, retry_for) as client:
            started = time.monotonic()
            with follow.progress_bar(out) as progress:
                sending = progress.add_task("sent", total=len(folder.essays), note="")
                batch_id = upload(
                    client,
                    pages,
                    batch_id,
                    on_sent=lambda count: progress.advance(sending, count),
                    on_created=lambda created: progress.console.print(
                        Text(f"Batch {created}: {len(folder.essays)} essays")
                    ),
                )
                if do_trigger:
                    fresh = trigger(client, batch_id)
                    progress.update(sending, note="triggered" if fresh else "triggered already")
                final = None
                if wait:
                    final = follow.track(
                        client,
                        batch_id,
                        progress,
                        show_published=do_trigger,
                        interval_s=interval,
                    )
            if final is None:
                out.print(Text(_not_followed(batch_id, do_trigger)))
                return
            _conclude(out, client, batch_id, final, time.monotonic() - started)


def _describe_input(out: Console, path: Path, folder: EssayFolder) -> None:
    out.print(Text(f"Read {len(folder.essays)} essays from {path}"))
    if folder.skipped:
        names = ", ".join(p.name for p in folder.skipped[:10])
        more = f" and {len(folder.skipped) - 10} more" if len(folder.skipped) > 10 else ""
        out.print(Text(f"Not sent (not .txt): {names}{more}", style="yellow"))
    if folder.renamed:
        examples = ", ".join(f"{e.path.name!r} -> {e.essay_id}" for e in folder.renamed[:3])
        more = ", ..." if len(folder.renamed) > 3 else ""
        out.print(
            Text(
                f"{len(folder.renamed)} essay ids differ from their file names, to fit the"
                f" API's id rules: {examples}{more}"
            )
        )


def _not_followed(batch_id: str, triggered: bool) -> str:
    what = "triggered" if triggered else "sent, not triggered"
    return f"Batch {batch_id} {what}. Follow it with: batch-service status {batch_id} --watch"


def _conclude(
    out: Console, client: ApiClient, batch_id: str, final: dict, elapsed_s: float
) -> None:
    counts = final["counts"]
    if final["state"] == "ready":  # followed with --no-trigger: stored, waiting for a trigger
        out.print(
            Text(
                f"Batch {batch_id} is ready: {counts['stored']} of {counts['total']} texts"
                " stored, not triggered. To trigger it, run this command again with"
                f" --batch-id {batch_id} and without --no-trigger."
            )
        )
    else:
        out.print(render.summary(final, elapsed_s))
    not_through = any(counts.get(state) for state in follow.NOT_THROUGH)
    if not_through or final["state"] in ("cancelled", "failed"):
        unfinished = follow.unfinished(client, batch_id, final)
        if unfinished:
            out.print(render.unfinished_essays(unfinished))
        raise typer.Exit(NOT_ALL_PUBLISHED)
