"""`make dev 2>&1 | tee dev.log`, then Ctrl-C: the terminal's SIGINT reaches tee too, which
exits, so every line the launcher writes after it goes to a pipe nobody reads. The launcher
must stop every piece all the same."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.components import REPO_ROOT, free_port

READY_S = 120
STOP_S = 60
PIECES = ("temporal", "broker", "content", "spellchecker", "results", "worker", "api")
PIECE_PID = re.compile(rb"^\s+(" + "|".join(PIECES).encode() + rb")\s+\S+\s+(\d+)\s", re.M)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(0.2)


def test_ctrl_c_stops_every_piece_after_the_output_pipe_is_gone(tmp_path: Path) -> None:
    ports = {
        name: str(free_port())
        for name in ("TEMPORAL_PORT", "KAFKA_PORT", "CONTENT_STORE_PORT", "PORT")
    }
    env = {
        **os.environ,
        **ports,
        "TEMPORAL_UI_PORT": str(free_port()),
        "API_METRICS_PORT": "0",
        "WORKER_METRICS_PORT": "0",
        "RESULTS_METRICS_PORT": "0",
        "DEVSTACK_STATE_DIR": str(tmp_path / "state"),
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
    }
    launcher = subprocess.Popen(
        [sys.executable, "-m", "devstack"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    pids: dict[str, int] = {}
    try:
        assert launcher.stdout is not None
        seen = b""
        deadline = time.monotonic() + READY_S
        while b"Ctrl-C stops everything" not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
            line = launcher.stdout.readline()
            assert line, f"the launcher exited: {seen.decode(errors='replace')[-2000:]}"
            seen += line
        pids = {name.decode(): int(pid) for name, pid in PIECE_PID.findall(seen)}
        assert set(pids) == set(PIECES), seen

        launcher.stdout.close()  # tee has exited: nobody reads what the launcher says now
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=STOP_S)
        wait_for(
            lambda: not any(alive(pid) for pid in pids.values()),
            STOP_S,
            "every piece to stop",
        )
    finally:
        if launcher.poll() is None:
            launcher.kill()
        for pid in pids.values():
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
