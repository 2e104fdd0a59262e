"""`make dev`: start every piece in order, supervise them, stop them in reverse order.

The pieces run in their own process groups (see ManagedProcess), so the terminal's Ctrl-C
reaches only this launcher, which then stops them api -> temporal, each with SIGTERM and, after a
timeout, SIGKILL. A piece that dies is reported loudly and left dead: the point of running the
pieces separately is to let you try outages (`kill <broker pid>`) and watch the rest cope.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

from devstack.components import compile_project
from devstack.console import alarm, describe_exit, log_tail, ok, rel, say
from devstack.pieces import (
    HOST,
    LOG_DIR,
    NAMES,
    STATE_DIR,
    STOP_TIMEOUT_S,
    Config,
    ConfigError,
    Piece,
    StartError,
    build_pieces,
    start_piece,
)

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
  NAME is one of: temporal, broker, content, spellchecker, results, worker, api (and codec,
  with PAYLOAD_KEYS)"""


class Launcher:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.pieces = build_pieces(cfg.settings(), cfg.layout())
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
        say(f"Logs: {LOG_DIR}/<piece>.log   (tail -f {rel(LOG_DIR)}/*.log)")

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
                f"  log {rel(piece.process.log_path or LOG_DIR)}"
            )
            if note:
                ok(f"  {note}")

    @staticmethod
    def _report_start_failure(exc: StartError) -> None:
        alarm(f"{exc.piece.name} failed to start: {exc.reason}")
        if exc.launched:
            say(f"  last lines of {rel(exc.piece.process.log_path or LOG_DIR)}:")
            say(log_tail(exc.piece.process.log_path))

    def _on_signal(self, sig: signal.Signals) -> None:
        assert self._stop_requested is not None
        if self._stop_requested.is_set():
            say(
                f"({sig.name}: already stopping, each piece gets SIGKILL after {STOP_TIMEOUT_S:g}s)"
            )
            return
        self._stop_requested.set()  # first: nothing said below may keep it from happening
        say(f"\n{sig.name} received: stopping everything.")

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
                        f"{piece.name} DIED (pid {piece.process.pid}, {describe_exit(code)})"
                        " - the other pieces keep running"
                    )
                    say(f"  its log: {rel(piece.process.log_path or LOG_DIR)}")
                    say(log_tail(piece.process.log_path, 5))
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
        say(f"stopped {piece.name} (pid {piece.process.pid}, {describe_exit(code)})")

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
            say(f"  {piece.name} {how} (pid {piece.process.pid}, {describe_exit(code)})")
        say("all pieces stopped.")

    # -- tables -------------------------------------------------------------------------------

    def _print_status(self) -> None:
        rows = [("PIECE", "STATE", "PID", "ADDRESS", "LOG")]
        for p in self.pieces:
            state = p.state
            if p.state == "died":
                state = f"DIED ({describe_exit(p.process.poll())})"
            log = rel(p.process.log_path) if p.process.log_path else "-"
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
        ports = (
            ("API", cfg.api_metrics_port),
            ("worker", cfg.worker_metrics_port),
            ("results consumer", cfg.settings().results_metrics_port),
        )
        for piece, port in ports:
            if port:  # 0 turns an endpoint off
                say(f"  Metrics       http://{HOST}:{port}/metrics ({piece})")
        say(f"  Retention     {cfg.temporal_retention} on namespace {cfg.namespace!r}")
        say(f"  Logs          {LOG_DIR}/")
        say()
        if os.environ.get("API_KEYS", "").strip():
            say("  API keys      on (API_KEYS): add -H 'Authorization: Bearer <key>' below")
        else:
            say("  API keys      off: the API is open (set API_KEYS to require keys)")
        say()
        say("  Try:")
        say(f"    curl -s localhost:{cfg.api_port}/readyz")
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
    compile_project()
    return asyncio.run(Launcher(cfg).run())
