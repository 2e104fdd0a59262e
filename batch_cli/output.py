"""Where output goes: results on stdout, errors on stderr as one message and an exit code."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from batch_cli.errors import INTERRUPTED, UNEXPECTED, CliError


@contextlib.contextmanager
def reporting(err: Console) -> Iterator[None]:
    """Turn every failure into `error: ...` on stderr and its exit code."""
    try:
        yield
    except CliError as exc:
        err.print(Text("error: ", style="bold red") + Text(exc.message))
        for hint in exc.hints:
            err.print(Text(f"hint: {hint}", style="dim"))
        raise typer.Exit(exc.exit_code) from None
    except typer.Exit:  # a chosen exit code (click's Exit is a RuntimeError)
        raise
    except KeyboardInterrupt:
        err.print(Text("interrupted", style="bold red"))
        raise typer.Exit(INTERRUPTED) from None
    except Exception as exc:
        if os.environ.get("BATCH_SERVICE_DEBUG"):
            raise
        err.print(
            Text("error: ", style="bold red") + Text(f"unexpected {type(exc).__name__}: {exc}"),
            Text("hint: this is a bug in batch-service; BATCH_SERVICE_DEBUG=1 shows where", "dim"),
        )
        raise typer.Exit(UNEXPECTED) from None


def consoles() -> tuple[Console, Console]:
    # soft_wrap: long lines (paths, errors) are left for the terminal to wrap, so a message
    # piped into a file or a log stays one line.
    return (
        Console(highlight=False, soft_wrap=True),
        Console(stderr=True, highlight=False, soft_wrap=True),
    )


def emit_json(value: Any) -> None:
    """JSON exactly as the API sent it: one line, no colours, for scripts."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()
