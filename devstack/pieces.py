"""The one place that builds the stack's five pieces (Temporal dev server, broker, content store,
worker, API) from the service's settings: `make dev`, the fault suite and the benchmark all run
these processes, each starting and supervising them its own way. Also `make dev`'s own
configuration, and how it starts one piece."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from contracts.ids import SEARCH_ATTRIBUTE_TYPES
from devstack.components import (
    REPO_ROOT,
    ManagedProcess,
    api_argv,
    async_wait_for_port,
    broker_argv,
    codec_argv,
    content_store_argv,
    create_topic,
    get_namespace_retention,
    port_is_open,
    results_argv,
    set_namespace_retention,
    spellchecker_argv,
    temporal_dev_argv,
    worker_argv,
)
from devstack.console import describe_exit
from settings import Settings

HOST = "127.0.0.1"
# Another folder for a second stack beside `make dev` (the tests start one).
STATE_DIR = Path(os.environ.get("DEVSTACK_STATE_DIR", REPO_ROOT / ".state"))
LOG_DIR = STATE_DIR / "logs"
STOP_TIMEOUT_S = 10.0
# The worker has no port to wait for: if it survives this long it got past its start-up checks.
WORKER_GRACE_S = 2.0
# The codec runs with PAYLOAD_KEYS only.
NAMES = ("temporal", "broker", "content", "spellchecker", "results", "worker", "api", "codec")


class ConfigError(ValueError):
    pass


def _port(env: dict[str, str], name: str, default: int, *, zero_disables: bool = False) -> int:
    raw = env.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number, got {raw!r}") from None
    lowest = 0 if zero_disables else 1
    if not lowest <= port <= 65535:
        raise ConfigError(f"{name} must be between {lowest} and 65535, got {port}")
    return port


# The niceness of the pieces that do a batch's work (the Temporal server, the broker, the content
# store and the worker): on one machine they would otherwise take the CPU from the API while a
# big batch runs, and a teacher's status poll would wait behind the batch it asks about
# (docs/performance.md, B4). The API keeps 0.
DEFAULT_BACKGROUND_NICE = 10


def nicenesses(env: Mapping[str, str]) -> tuple[int, int]:
    """The background pieces' niceness and the worker's, as `make dev` and the bench read them:
    BACKGROUND_NICE (default 10), and WORKER_NICE, which defaults to it."""
    background = _niceness(env, "BACKGROUND_NICE", DEFAULT_BACKGROUND_NICE)
    return background, _niceness(env, "WORKER_NICE", background)


def _niceness(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        niceness = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not 0 <= niceness <= 19:
        raise ConfigError(f"{name} must be between 0 and 19, got {niceness}")
    return niceness


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
    api_metrics_port: int  # 0: off
    worker_metrics_port: int  # 0: off
    background_nice: int
    worker_nice: int  # WORKER_NICE, else background_nice

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Config:
        background_nice, worker_nice = nicenesses(env)
        return cls(
            temporal_port=_port(env, "TEMPORAL_PORT", 7233),
            temporal_ui_port=_port(env, "TEMPORAL_UI_PORT", 8233),
            temporal_retention=env.get("TEMPORAL_RETENTION", "72h"),
            namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            kafka_port=_port(env, "KAFKA_PORT", 9092),
            kafka_topic=env.get("KAFKA_TOPIC", "essay.spellcheck.requested.v1"),
            content_port=_port(env, "CONTENT_STORE_PORT", 8000),
            api_port=_port(env, "PORT", 5000),
            api_metrics_port=_port(env, "API_METRICS_PORT", 9100, zero_disables=True),
            worker_metrics_port=_port(env, "WORKER_METRICS_PORT", 9101, zero_disables=True),
            background_nice=background_nice,
            worker_nice=worker_nice,
        )

    @property
    def temporal_address(self) -> str:
        return f"{HOST}:{self.temporal_port}"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    def settings(self) -> Settings:
        """What the worker and the API run with: these addresses, the rest from the
        environment as `make dev` was started with it."""
        try:
            return Settings(
                host=HOST,
                port=self.api_port,
                api_metrics_port=self.api_metrics_port,
                worker_metrics_port=self.worker_metrics_port,
                temporal_address=self.temporal_address,
                temporal_namespace=self.namespace,
                kafka_bootstrap_servers=self.bootstrap,
                kafka_topic=self.kafka_topic,
                # The embedded broker rejects InitProducerId, which an idempotent producer sends.
                kafka_enable_idempotence=False,
                content_service_url=f"http://{HOST}:{self.content_port}/v1/content",
                worker_nice=self.worker_nice,
            )
        except ValidationError as exc:
            raise ConfigError(str(exc)) from None

    def layout(self) -> Layout:
        return Layout(
            state_dir=STATE_DIR,
            log_dir=LOG_DIR,
            temporal_ui_port=self.temporal_ui_port,
            retention=self.temporal_retention,
            background_nice=self.background_nice,
        )


@dataclass(frozen=True)
class Layout:
    """Where a stack keeps its state and logs, and what only some stacks want."""

    state_dir: Path  # the dev server's database, the content store's files
    log_dir: Path  # <piece>.log
    temporal_ui_port: int | None = None  # None: no UI
    retention: str | None = None  # set on the namespace after every start of the dev server
    # The pieces that do a batch's work below the API; the worker's own is WORKER_NICE.
    background_nice: int = 0


def port_of(address: str) -> int:
    """The port of `host:port` or of a URL."""
    netloc = urlsplit(address).netloc if "//" in address else address
    return int(netloc.rsplit(":", 1)[1])


@dataclass
class Piece:
    name: str
    process: ManagedProcess
    address: str  # shown in the tables
    ports: tuple[int, ...]  # must be free before a start, and open before the piece is ready
    start_timeout_s: float = 30.0
    # Runs after every (re)start once the ports are open, e.g. re-creating the topic on the
    # memory-only broker. Returns a line worth printing, if any.
    setup: Callable[[], Awaitable[str | None]] | None = None
    state: str = "not started"  # starting | running | stopped | died | failed
    started_at: float = 0.0  # monotonic time of the last start


class StartError(RuntimeError):
    def __init__(self, piece: Piece, reason: str, *, launched: bool = True) -> None:
        super().__init__(f"{piece.name}: {reason}")
        self.piece = piece
        self.reason = reason
        self.launched = launched  # False: refused before launch, so its log has nothing to say


def build_pieces(settings: Settings, layout: Layout) -> list[Piece]:
    """The pieces in start order, listening where `settings` say; the worker and the API get
    `settings` as their environment."""

    def proc(
        name: str, argv: list[str], env: dict[str, str] | None = None, niceness: int = 0
    ) -> ManagedProcess:
        log_path = layout.log_dir / f"{name}.log"
        return ManagedProcess(
            name, argv, env=env, cwd=REPO_ROOT, log_path=log_path, niceness=niceness
        )

    background = layout.background_nice
    temporal_port = port_of(settings.temporal_address)
    kafka_port = port_of(settings.kafka_bootstrap_servers)
    content_port = port_of(settings.content_service_url)
    namespace = settings.temporal_namespace

    async def temporal_setup() -> str | None:
        if layout.retention is None:
            return None
        address, retention = settings.temporal_address, layout.retention
        await asyncio.to_thread(set_namespace_retention, address, namespace, retention)
        reported = await asyncio.to_thread(get_namespace_retention, address, namespace)
        return f"namespace {namespace!r}: retention set to {retention} (server reports {reported})"

    topics = (settings.kafka_topic, settings.kafka_results_topic, settings.kafka_batch_topic)

    async def broker_setup() -> str:
        for topic in topics:
            await create_topic(settings.kafka_bootstrap_servers, topic, timeout_s=15)
        return f"topics {', '.join(topics)} created (the broker is memory-only)"

    # Log lines reach the log files as they are written, not when a buffer fills.
    app_env = {**settings.as_env(), "PYTHONUNBUFFERED": "1"}
    content_argv = content_store_argv(content_port, layout.state_dir / "content", host=HOST)
    ui = f" (UI http://{HOST}:{layout.temporal_ui_port})" if layout.temporal_ui_port else ""
    codec_url = f"http://{settings.codec_host}:{settings.codec_port}"
    temporal_argv = temporal_dev_argv(
        temporal_port,
        layout.temporal_ui_port,
        layout.state_dir / "temporal.db",
        namespace=namespace,
        search_attributes=SEARCH_ATTRIBUTE_TYPES,
        # Payloads encrypted: the UI shows them through the codec endpoint.
        ui_codec_endpoint=codec_url if settings.payload_keys is not None else None,
    )
    pieces = [
        Piece(
            "temporal",
            proc("temporal", temporal_argv, niceness=background),
            f"{settings.temporal_address}{ui}",
            (temporal_port, *_open(layout.temporal_ui_port or 0)),
            setup=temporal_setup,
        ),
        Piece(
            "broker",
            proc("broker", broker_argv(kafka_port, host=HOST), niceness=background),
            f"{settings.kafka_bootstrap_servers} (topic {settings.kafka_topic})",
            (kafka_port,),
            start_timeout_s=15.0,
            setup=broker_setup,
        ),
        Piece(
            "content",
            proc("content", content_argv, {"PYTHONUNBUFFERED": "1"}, niceness=background),
            settings.content_service_url,
            (content_port,),
        ),
        Piece(
            "spellchecker",
            # HuleEdu's spell checker stands in: requests in, corrected texts and results out.
            proc("spellchecker", spellchecker_argv(), app_env, niceness=background),
            f"consumes {settings.kafka_topic}, answers on {settings.kafka_results_topic}",
            (),
        ),
        Piece(
            "results",
            # Tells the workflows about each result; its metrics show its lag.
            proc("results", results_argv(), app_env),
            _with_metrics(
                f"consumes {settings.kafka_results_topic}", settings.results_metrics_port
            ),
            _open(settings.results_metrics_port),
        ),
        Piece(
            "worker",
            # The worker lowers itself (worker.py): its niceness is a setting, WORKER_NICE.
            proc("worker", worker_argv(), app_env),
            _with_metrics(
                f"polls Temporal at {settings.temporal_address}", settings.worker_metrics_port
            ),
            _open(settings.worker_metrics_port),
        ),
        Piece(
            "api",
            proc("api", api_argv(), app_env),
            _with_metrics(f"http://{HOST}:{settings.port}", settings.api_metrics_port),
            (settings.port, *_open(settings.api_metrics_port)),
        ),
    ]
    if settings.payload_keys is not None:
        # Payloads are encrypted: the UI reads them through the codec endpoint.
        pieces.append(
            Piece(
                "codec",
                proc("codec", codec_argv(), app_env),
                f"{codec_url} (the Temporal UI's codec endpoint)",
                (settings.codec_port,),
            )
        )
    return pieces


def _open(port: int) -> tuple[int, ...]:
    """A metrics port the piece must open, unless it is turned off (0)."""
    return (port,) if port else ()


def _with_metrics(address: str, metrics_port: int) -> str:
    if not metrics_port:
        return address
    return f"{address}, metrics http://{HOST}:{metrics_port}/metrics"


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
            raise RuntimeError(f"{process.name} exited right after start ({describe_exit(code)})")
        await asyncio.sleep(0.1)
