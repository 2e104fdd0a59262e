"""`batch-service trigger` and `batch-service essay`: one essay, sent and looked up."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from batch_cli import render
from batch_cli.api_client import path_part
from batch_cli.errors import BAD_INPUT, ApiRefused, CliError
from batch_cli.essay_files import read_text
from batch_cli.options import DEFAULT_API_URL, ApiKey, ApiUrl, AsJson, RetryFor, Timeout, connect
from batch_cli.output import consoles, emit_json, reporting
from batch_cli.pages import to_json


def trigger_essay(
    file: Annotated[
        Path | None,
        typer.Argument(help="A text file holding the essay ('-' reads standard input)."),
    ] = None,
    text: Annotated[str | None, typer.Option(help="The essay's text, instead of a FILE.")] = None,
    essay_id: Annotated[
        str | None, typer.Option(help="Your id for the essay (default: the API makes one).")
    ] = None,
    as_json: AsJson = False,
    api_url: ApiUrl = DEFAULT_API_URL,
    api_key: ApiKey = None,
    timeout: Timeout = 30.0,
    retry_for: RetryFor = 60.0,
) -> None:
    """Send one essay for spellcheck (POST /v1/trigger-spellcheck)."""
    out, err = consoles()
    with reporting(err):
        essay_text = _one_essay(file, text)
        body: dict[str, str] = {"text": essay_text}
        headers = {}
        if essay_id is not None:
            body["essay_id"] = essay_id
        else:
            # A retried request (after a timeout) must not become a second essay.
            headers["Idempotency-Key"] = f"batch-service-{uuid.uuid4()}"
        with connect(api_url, api_key, timeout, retry_for) as client:
            answer = client.post("/v1/trigger-spellcheck", to_json(body), headers)
        if as_json:
            emit_json(answer)
            return
        out.print(Text(f"Essay {answer['essay_id']} accepted for spellcheck."))
        out.print(Text(f"essay id:       {answer['essay_id']}"))
        out.print(Text(f"correlation id: {answer['correlation_id']}"))
        out.print(Text(f"Follow it with: batch-service essay {answer['essay_id']}", style="dim"))


def _one_essay(file: Path | None, text: str | None) -> str:
    if (file is None) == (text is None):
        raise CliError("give the essay either as a FILE or with --text (exactly one)", BAD_INPUT)
    if text is not None:
        return text
    assert file is not None
    if str(file) == "-":
        data = sys.stdin.buffer.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CliError("standard input is not UTF-8 text", BAD_INPUT) from None
    if not file.is_file():
        raise CliError(f"no such file: {file}", BAD_INPUT)
    return read_text(file)


def essay(
    essay_id: Annotated[str, typer.Argument(help="The essay's id (from `trigger`).")],
    as_json: AsJson = False,
    api_url: ApiUrl = DEFAULT_API_URL,
    api_key: ApiKey = None,
    timeout: Timeout = 30.0,
    retry_for: RetryFor = 60.0,
) -> None:
    """Show one essay's status (sent with `trigger`; a batch's essays are in `status`)."""
    out, err = consoles()
    with reporting(err), connect(api_url, api_key, timeout, retry_for) as client:
        try:
            answer = client.get(f"/v1/essays/{path_part(essay_id)}/status")
        except ApiRefused as exc:
            if exc.status == 404:
                exc.with_hint("essays sent in a batch are shown by: batch-service status BATCH_ID")
            raise
        if as_json:
            emit_json(answer)
        else:
            out.print(render.essay_view(answer))
