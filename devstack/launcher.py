"""``make dev``: start every piece in order, supervise them, stop them in reverse order.

The pieces run in their own process groups (see ManagedProcess), so the terminal's Ctrl-C
reaches only this launcher, which then stops them api -> temporal, each with SIGTERM and, after a
timeout, SIGKILL. A piece that dies is reported loudly and left dead: the point of running the
pieces separately is to let you try outages (``kill <broker pid>``) and watch the rest cope.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from devstack.components import (
    REPO_ROOT,
    ManagedProcess,
    api_argv,
    async_wait_for_port,
    broker_argv,
    content_store_argv,
    create_topic,
    get_namespace_retention,
    port_is_open,
    set_namespace_retention,
    temporal_dev_argv,
    worker_argv,
)

HOST = "127.0.0.1"
STATE_DIR = REPO_ROOT / ".state"
LOG_DIR = STATE_DIR / "logs"
STOP_TIMEOUT_S = 10.0
# The worker has no port to wait for: if it survives this long it got past its start-up checks.
WORKER_GRACE_S = 2.0
LOG_TAIL_LINES = 20
NAMES = ("temporal", "broker", "content", "worker", "api")


# ---------------------------------------------------------------------------------------------
# Console
# ---------------------------------------------------------------------------------------------

_COLOUR = sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _paint(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _COLOUR else text


def say(text: str = "") -> None:
    print(text, flush=True)


def ok(text: str) -> None:
    say(_paint("32", text))


def alarm(text: str) -> None:
    say(_paint("1;97;41", f"!!! {text} !!!"))


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"exit code {code}, killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"


def _log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").rstrip().splitlines()[-lines:]
    return "\n".join(f"    | {line}" for line in text) or "    | (empty)"


# ---------------------------------------------------------------------------------------------
# Configuration and pieces
# ---------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    pass


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name} must be between 1 and 65535, got {port}")
    return port


@dataclass(frozen=True)
class Config:
    temporal_port: int
    temporal_ui_port: int
    temporal_retention: str
    namespace: str
    kafka_port: int
    kafka_topic: str
    content_port: int
    api_port: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Config:
        return cls(
            temporal_port=_port(env, "TEMPORAL_PORT", 7233),
            temporal_ui_port=_port(env, "TEMPORAL_UI_PORT", 8233),
            temporal_retention=env.get("TEMPORAL_RETENTION", "72h"),
            namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            kafka_port=_port(env, "KAFKA_PORT", 9092),
            kafka_topic=env.get("KAFKA_TOPIC", "essay.spellcheck.requested.v1"),
            content_port=_port(env, "CONTENT_STORE_PORT", 8000),
            api_port=_port(env, "PORT", 5000),
        )

    @property
    def temporal_address(self) -> str:
        return f"{HOST}:{self.temporal_port}"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"


@dataclass
class Piece:
    name: str
    process: ManagedProcess
    address: str  # shown in the tables
    ports: tuple[int, ...]  # must be free before a start, and open before the piece is ready
    start_timeout_s: float = 30.0
    # Runs after every (re)start once the ports are open, e.g. re-creating the topic on the
    # memory-only broker. Returns a line worth printing.
    setup: Callable[[], Awaitable[str]] | None = None
    state: str = "not started"  # starting | running | stopped | died | failed
    started_at: float = 0.0  # monotonic time of the last start


class StartError(RuntimeError):
    def __init__(self, piece: Piece, reason: str, *, launched: bool = True) -> None:
        super().__init__(f"{piece.name}: {reason}")
        self.piece = piece
        self.reason = reason
        self.launched = launched  # False: refused before launch, so its log has nothing to say


def build_pieces(cfg: Config) -> list[Piece]:
    """The pieces in start order; each one's env carries the addresses of those before it."""

    def proc(name: str, argv: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        return ManagedProcess(name, argv, env=env, cwd=REPO_ROOT, log_path=LOG_DIR / f"{name}.log")

    async def temporal_setup() -> str:
        await asyncio.to_thread(
            set_namespace_retention, cfg.temporal_address, cfg.namespace, cfg.temporal_retention
        )
        reported = await asyncio.to_thread(
            get_namespace_retention, cfg.temporal_address, cfg.namespace
        )
        return (
            f"namespace {cfg.namespace!r}: retention set to {cfg.temporal_retention}"
            f" (server reports {reported})"
        )

    async def broker_setup() -> str:
        await create_topic(cfg.bootstrap, cfg.kafka_topic, timeout_s=15)
        return f"topic {cfg.kafka_topic!r} created (the broker is memory-only)"

    app_env = {
        "TEMPORAL_ADDRESS": cfg.temporal_address,
        "TEMPORAL_NAMESPACE": cfg.namespace,
        "KAFKA_BOOTSTRAP_SERVERS": cfg.bootstrap,
        "KAFKA_TOPIC": cfg.kafka_topic,
        # Tansu rejects InitProducerId, which an idempotent producer sends first.
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "CONTENT_SERVICE_URL": f"http://{HOST}:{cfg.content_port}/v1/content",
        "HOST": HOST,
        "PORT": str(cfg.api_port),
        # Log lines reach the log files as they are written, not when a buffer fills.
        "PYTHONUNBUFFERED": "1",
    }
    temporal_argv = temporal_dev_argv(
        cfg.temporal_port,
        cfg.temporal_ui_port,
        STATE_DIR / "temporal.db",
        namespace=cfg.namespace,
        search_attributes={"BatchId": "Keyword", "EssayId": "Keyword"},
    )
    content_argv = content_store_argv(cfg.content_port, STATE_DIR / "content", host=HOST)
    return [
        Piece(
            "temporal",
            proc("temporal", temporal_argv),
            f"{HOST}:{cfg.temporal_port} (UI http://{HOST}:{cfg.temporal_ui_port})",
            (cfg.temporal_port, cfg.temporal_ui_port),
            setup=temporal_setup,
        ),
        Piece(
            "broker",
            proc("broker", broker_argv(cfg.kafka_port, host=HOST)),
            f"{cfg.bootstrap} (topic {cfg.kafka_topic})",
            (cfg.kafka_port,),
            start_timeout_s=15.0,
            setup=broker_setup,
        ),
        Piece(
            "content",
            proc("content", content_argv, {"PYTHONUNBUFFERED": "1"}),
            f"http://{HOST}:{cfg.content_port}/v1/content",
            (cfg.content_port,),
        ),
        Piece(
            "worker",
            proc("worker", worker_argv(), app_env),
            f"(no port; polls Temporal at {cfg.temporal_address})",
            (),
        ),
        Piece(
            "api",
            proc("api", api_argv(), app_env),
            f"http://{HOST}:{cfg.api_port}",
            (cfg.api_port,),
        ),
    ]


async def start_piece(piece: Piece) -> str | None:
    """Start one piece and wait until it is ready; raise StartError (with it stopped) if not."""
    for port in piece.ports:
        if port_is_open(HOST, port):
            raise StartError(
                piece, f"port {port} is already in use (another `make dev`?)", launched=False
            )
    piece.state = "starting"
    piece.process.start()
    piece.started_at = time.monotonic()
    try:
        for port in piece.ports:
            await async_wait_for_port(HOST, port, piece.start_timeout_s, piece.process)
        if not piece.ports:
            await _stays_alive(piece.process, WORKER_GRACE_S)
        note = await piece.setup() if piece.setup is not None else None
    except Exception as exc:  # whatever went wrong, the piece is not usable: say why, stop it
        piece.state = "failed"
        await asyncio.to_thread(piece.process.stop, STOP_TIMEOUT_S)
        raise StartError(piece, str(exc) or repr(exc)) from exc
    piece.state = "running"
    return note


async def _stays_alive(process: ManagedProcess, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (code := process.poll()) is not None:
            raise RuntimeError(f"{process.name} exited right after start ({_describe_exit(code)})")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# The launcher: start-up, supervision, commands, shutdown
# ---------------------------------------------------------------------------------------------

HELP = """\
  Commands (type one and press Enter):
    status          every piece: state, pid, address
    stop NAME       stop one piece (the others keep running)
    start NAME      start it again, on the same port
    restart NAME    stop, then start
    help            this text
    quit            stop everything (same as Ctrl-C)
  NAME is one of: temporal, broker, content, worker, api"""


class Launcher:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.pieces = build_pieces(cfg)
        self.by_name = {p.name: p for p in self.pieces}
        self._stop_requested: asyncio.Event | None = None
        self._commands: asyncio.Queue[str] = asyncio.Queue()
        self._stdin_fd: int | None = None
        self._stdin_buffer = b""
        self._stopping = False

    # -- entry point --------------------------------------------------------------------------

    async def run(self) -> int:
        self._stop_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        # SIGHUP too: the pieces are in their own sessions, so a closed terminal would otherwise
        # leave them running without us.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            code = await self._run()
        finally:
            self._close_stdin()
            await self._shutdown()
        return code

    async def _run(self) -> int:
        assert self._stop_requested is not None
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / "content").mkdir(parents=True, exist_ok=True)
        for piece in self.pieces:  # one run, one set of logs; restarts within it append
            if piece.process.log_path is not None:
                piece.process.log_path.write_bytes(b"")
        say(f"Logs: {LOG_DIR}/<piece>.log   (tail -f {_rel(LOG_DIR)}/*.log)")

        began = time.monotonic()
        startup = asyncio.create_task(self._start_all())
        interrupted = asyncio.create_task(self._stop_requested.wait())
        await asyncio.wait({startup, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():  # Ctrl-C during start-up
            startup.cancel()
            await asyncio.gather(startup, return_exceptions=True)
            return 0
        interrupted.cancel()
        try:
            startup.result()
        except StartError as exc:
            self._report_start_failure(exc)
            say("  stopping what was started; nothing else will run.")
            return 1

        self._print_summary(time.monotonic() - began)
        self._open_stdin()
        commands = asyncio.create_task(self._serve_commands())
        try:
            await self._supervise()
        finally:
            commands.cancel()
            await asyncio.gather(commands, return_exceptions=True)
        return 0

    async def _start_all(self) -> None:
        for piece in self.pieces:
            say(f"starting {piece.name} ...")
            note = await start_piece(piece)
            took = time.monotonic() - piece.started_at
            ok(
                f"  {piece.name} ready: {piece.address}, pid {piece.process.pid} ({took:.1f}s)"
                f"  log {_rel(piece.process.log_path or LOG_DIR)}"
            )
            if note:
                ok(f"  {note}")

    @staticmethod
    def _report_start_failure(exc: StartError) -> None:
        alarm(f"{exc.piece.name} failed to start: {exc.reason}")
        if exc.launched:
            say(f"  last lines of {_rel(exc.piece.process.log_path or LOG_DIR)}:")
            say(_log_tail(exc.piece.process.log_path))

    def _on_signal(self, sig: signal.Signals) -> None:
        assert self._stop_requested is not None
        if self._stop_requested.is_set():
            say(
                f"({sig.name}: already stopping, each piece gets SIGKILL after {STOP_TIMEOUT_S:g}s)"
            )
            return
        say(f"\n{sig.name} received: stopping everything.")
        self._stop_requested.set()

    # -- supervision --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Poll every piece about once a second until a stop is requested."""
        assert self._stop_requested is not None
        while not self._stop_requested.is_set():
            for piece in self.pieces:
                # Only pieces we believe are up: a stop/start in progress is not a death.
                if piece.state == "running" and (code := piece.process.poll()) is not None:
                    piece.state = "died"
                    alarm(
                        f"{piece.name} DIED (pid {piece.process.pid}, {_describe_exit(code)})"
                        " - the other pieces keep running"
                    )
                    say(f"  its log: {_rel(piece.process.log_path or LOG_DIR)}")
                    say(_log_tail(piece.process.log_path, 5))
                    say(f"  bring it back with: start {piece.name}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), timeout=1.0)

    # -- commands from stdin ------------------------------------------------------------------

    def _open_stdin(self) -> None:
        """Read commands from a terminal or a pipe; anything else (a file, /dev/null) is skipped."""
        try:
            fd = sys.stdin.fileno()
            # A background job reading its terminal would be stopped by SIGTTIN.
            if os.isatty(fd) and os.tcgetpgrp(fd) != os.getpgrp():
                return
            # add_reader refuses (EPERM) what epoll cannot watch: regular files, /dev/null.
            asyncio.get_running_loop().add_reader(fd, self._on_stdin_readable)
        except (AttributeError, ValueError, OSError):
            say("(stdin is not a terminal or a pipe: no commands; Ctrl-C or SIGTERM stops)")
            return
        self._stdin_fd = fd

    def _close_stdin(self) -> None:
        if self._stdin_fd is not None:
            asyncio.get_running_loop().remove_reader(self._stdin_fd)
            self._stdin_fd = None

    def _on_stdin_readable(self) -> None:
        assert self._stdin_fd is not None
        try:
            data = os.read(self._stdin_fd, 4096)
        except OSError:
            data = b""
        if not data:  # EOF: stop listening, keep running
            self._close_stdin()
            data = b"\n" if self._stdin_buffer else b""
        self._stdin_buffer += data
        *lines, self._stdin_buffer = self._stdin_buffer.split(b"\n")
        for line in lines:
            self._commands.put_nowait(line.decode(errors="replace").strip())

    async def _serve_commands(self) -> None:
        while True:
            line = await self._commands.get()
            if line:
                await self._command(line)

    async def _command(self, line: str) -> None:
        assert self._stop_requested is not None
        verb, _, arg = line.partition(" ")
        verb, arg = verb.lower(), arg.strip().lower()
        if verb in ("quit", "exit"):
            self._stop_requested.set()
        elif verb == "help":
            say(HELP)
        elif verb == "status":
            self._print_status()
        elif verb in ("stop", "start", "restart"):
            piece = self.by_name.get(arg)
            if piece is None:
                say(f"{verb} what? NAME is one of: {', '.join(NAMES)}")
                return
            if verb in ("stop", "restart"):
                await self._stop_one(piece)
            if verb in ("start", "restart"):
                await self._start_one(piece)
        else:
            say(f"unknown command {line!r}; type help")

    async def _stop_one(self, piece: Piece) -> None:
        if not piece.process.alive:
            say(f"{piece.name} is not running")
            return
        piece.state = "stopped"  # before stopping, so the supervisor does not call it a death
        code = await asyncio.to_thread(piece.process.stop, STOP_TIMEOUT_S)
        say(f"stopped {piece.name} (pid {piece.process.pid}, {_describe_exit(code)})")

    async def _start_one(self, piece: Piece) -> None:
        if piece.process.alive:
            say(f"{piece.name} is already running (pid {piece.process.pid})")
            return
        say(f"starting {piece.name} ...")
        try:
            note = await start_piece(piece)
        except StartError as exc:
            self._report_start_failure(exc)
            return
        ok(f"{piece.name} is back: {piece.address}, pid {piece.process.pid}")
        if note:
            ok(f"  {note}")

    # -- shutdown -----------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Stop every piece ever started, newest layer first, so nothing is left behind."""
        if self._stopping:
            return
        self._stopping = True
        for piece in reversed(self.pieces):
            if piece.process.pid is None:
                continue  # never started
            was_alive = piece.process.alive
            piece.state = "stopped"
            code = await asyncio.to_thread(piece.process.stop, STOP_TIMEOUT_S)
            how = "stopped" if was_alive else "was already down"
            say(f"  {piece.name} {how} (pid {piece.process.pid}, {_describe_exit(code)})")
        say("all pieces stopped.")

    # -- tables -------------------------------------------------------------------------------

    def _print_status(self) -> None:
        rows = [("PIECE", "STATE", "PID", "ADDRESS", "LOG")]
        for p in self.pieces:
            state = p.state
            if p.state == "died":
                state = f"DIED ({_describe_exit(p.process.poll())})"
            log = _rel(p.process.log_path) if p.process.log_path else "-"
            rows.append((p.name, state, str(p.process.pid or "-"), p.address, log))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def _print_summary(self, took: float) -> None:
        cfg = self.cfg
        say()
        ok(f"=== all pieces up in {took:.1f}s ===")
        self._print_status()
        say()
        say(f"  Temporal UI   http://{HOST}:{cfg.temporal_ui_port}")
        say(f"  API           http://{HOST}:{cfg.api_port}")
        say(f"  Retention     {cfg.temporal_retention} on namespace {cfg.namespace!r}")
        say(f"  Logs          {LOG_DIR}/")
        say()
        say("  Try:")
        say(f"    curl -s localhost:{cfg.api_port}/healthz")
        say(
            f"    curl -s -X POST localhost:{cfg.api_port}/v1/trigger-spellcheck"
            " -H 'Content-Type: application/json' -d '{\"text\":\"Hello wrold\"}'"
        )
        say()
        say(HELP)
        say(
            f"  Outage drill: kill {self.by_name['broker'].process.pid} (the broker), watch,"
            " then `start broker`."
        )
        say("  Ctrl-C stops everything.")
        say()


def main() -> int:
    try:
        cfg = Config.from_env(dict(os.environ))
    except ConfigError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(Launcher(cfg).run())
