"""`batch-service status BATCH_ID`: a batch's status, once or followed until it closes."""

from __future__ import annotations

from typing import Annotated

import typer

from batch_cli import follow, render
from batch_cli.errors import NOT_ALL_PUBLISHED
from batch_cli.options import (
    DEFAULT_API_URL,
    ApiKey,
    ApiUrl,
    AsJson,
    Interval,
    RetryFor,
    Timeout,
    connect,
)
from batch_cli.output import consoles, emit_json, reporting


def status(
    batch_id: Annotated[str, typer.Argument(help="The batch's id.")],
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the batch live until it closes.")
    ] = False,
    as_json: AsJson = False,
    interval: Interval = 1.0,
    api_url: ApiUrl = DEFAULT_API_URL,
    api_key: ApiKey = None,
    timeout: Timeout = 30.0,
    retry_for: RetryFor = 60.0,
) -> None:
    """Show a batch's state, essay counts and backlog; --watch follows it until it closes
    (exit code 4 if it closes with essays failed or cancelled)."""
    out, err = consoles()
    with reporting(err), connect(api_url, api_key, timeout, retry_for) as client:
        if not watch:
            # --json gives the API's answer with its default page of essays; the view needs none.
            answer = follow.fetch_status(client, batch_id, limit=None if as_json else 1)
            if as_json:
                emit_json(answer)
            else:
                out.print(render.batch_view(answer))
            return
        if as_json:
            final = follow.watch_json(client, batch_id, emit_json, interval)
        else:
            final = follow.watch(client, batch_id, out, interval)
        if final["state"] != "completed" or final["counts"]["failed"]:
            raise typer.Exit(NOT_ALL_PUBLISHED)
