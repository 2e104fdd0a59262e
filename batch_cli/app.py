"""The `batch-service` command: its commands, `--help` and `--version`; see docs/cli.md. Each
command lives in `batch_cli.commands`."""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from batch_cli.commands.single import essay, trigger_essay
from batch_cli.commands.status import status
from batch_cli.commands.submit import submit

DISTRIBUTION = "huleedu-essay-orchestrator"

app = typer.Typer(
    name="batch-service",
    help="Send essays to HuleEdu's batch service and follow them until they are spellchecked.",
    no_args_is_help=True,
    add_completion=False,
    # Errors are reported as one message and an exit code (batch_cli.errors), never a trace.
    pretty_exceptions_enable=False,
    # Markdown joins a docstring's wrapped lines into one paragraph.
    rich_markup_mode="markdown",
)
app.command()(submit)
app.command("trigger")(trigger_essay)
app.command()(status)
app.command()(essay)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"batch-service {metadata.version(DISTRIBUTION)}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Send essays to HuleEdu's batch service and follow them until they are spellchecked."""


def main() -> None:
    app()
