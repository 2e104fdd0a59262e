"""Running `batch-service` in the tests.

Most invocations go through typer's CliRunner in a worker thread: the stack's worker runs on
the tests' event loop, so the command must not block it, and a thread costs no interpreter
start. A few run the installed `batch-service` script as a subprocess, which is what proves
the `[project.scripts]` entry, the environment variables and the exit codes of a real process.
"""

from __future__ import annotations

import asyncio
import os
from asyncio.subprocess import Process
from dataclasses import dataclass

from typer.testing import CliRunner

from batch_cli.app import app
from tests.conftest import SCRIPTS

CLI_TIMEOUT_S = 60


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str


async def run_cli(*args: str) -> Ran:
    """`batch-service ARGS` in-process, in a thread, with stdout and stderr apart."""
    result = await asyncio.wait_for(
        asyncio.to_thread(CliRunner().invoke, app, list(args)), CLI_TIMEOUT_S
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug in the tool, not an answer to assert on
    return Ran(result.exit_code, result.stdout, result.stderr)


async def start_script(*args: str, env: dict[str, str] | None = None) -> Process:
    """The installed `batch-service` script as a real process, its output piped."""
    return await asyncio.create_subprocess_exec(
        str(SCRIPTS / "batch-service"),
        *args,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_script(*args: str, env: dict[str, str] | None = None) -> Ran:
    """The installed `batch-service` script, run to its end."""
    process = await start_script(*args, env=env)
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
