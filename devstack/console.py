"""Console output of the launcher: plain lines, colour only on a terminal."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from devstack.components import REPO_ROOT

LOG_TAIL_LINES = 20

_COLOUR = sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _paint(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _COLOUR else text


def say(text: str = "") -> None:
    try:
        print(text, flush=True)
    except OSError:
        # Nobody reads the output any more (`make dev | tee dev.log`, then Ctrl-C, which ends
        # tee too): go on without it, so a line never stops the launcher stopping the pieces.
        _silence_output()


def _silence_output() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def ok(text: str) -> None:
    say(_paint("32", text))


def alarm(text: str) -> None:
    say(_paint("1;97;41", f"!!! {text} !!!"))


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"exit code {code}, killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").rstrip().splitlines()[-lines:]
    return "\n".join(f"    | {line}" for line in text) or "    | (empty)"
