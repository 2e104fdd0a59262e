"""One typed settings object, read once from the environment.

Variable names are the HuleEdu Batch Service specification's (PORT, HOST,
KAFKA_BOOTSTRAP_SERVERS, CONTENT_SERVICE_URL, LOG_LEVEL) plus the orchestrator's own. A bad
value stops start-up with a message naming the variable, rather than failing later somewhere
far from the cause.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from api_keys import KeyRing, parse_api_keys
from codec.keys import parse_payload_keys
from contracts.essay import Following

# Settings whose values must never appear in a message or a log line.
SECRET_SETTINGS = frozenset(
    {"api_keys", "kafka_sasl_password", "content_service_token", "payload_keys", "codec_token"}
)
# Setting -> the one it must differ from, and why.
APART = {
    "api_metrics_port": ("port", "metrics are never served on the API's port"),
    "temporal_batch_task_queue": ("temporal_task_queue", "batches have their own queue"),
}


class SettingsError(RuntimeError):
    """Raised when an environment variable holds a value the service cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # HTTP API (the Batch Service specification's names)
    host: str = "0.0.0.0"
    port: int = Field(default=5000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Largest request body the API reads; larger ones get 413 before any work is done.
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Batch requests carry many essays: a page of up to MAX_BATCH_ESSAYS essays within this.
    max_batch_request_bytes: int = Field(default=4 * 1_048_576, ge=1024)
    max_batch_essays: int = Field(default=500, ge=1, le=2000)
    # What one batch takes in all: what its parent carries across continue-as-new and writes
    # to its memo grows with its chunks, so both stay under the server's payload warning.
    max_batch_total_essays: int = Field(default=100_000, ge=1, le=100_000)
    max_batch_pages: int = Field(default=1_000, ge=1, le=1_000)
    # Comma-separated `name:key` pairs and/or bare keys (api_keys.py). Unset or empty: the API
    # runs open, and says so in its log at start-up.
    api_keys: SecretStr | None = None
    # Token bucket per client (per address while open): requests per second, and how many may
    # come at once after a quiet spell. 0 turns the limit off.
    rate_limit_per_s: float = Field(default=0.0, ge=0, le=100_000, allow_inf_nan=False)
    rate_limit_burst: int = Field(default=20, ge=1, le=100_000)
    # How long `GET /readyz` waits for Temporal before answering 503: probes want a quick answer.
    readiness_timeout_s: float = Field(default=2.0, gt=0, le=60)
    # How old a batch status answer may be (api/status_cache.py): polls are answered from a copy
    # refreshed in the background, not from a server busy with the batch. 0: always read.
    status_max_age_s: float = Field(default=2.0, ge=0, le=60, allow_inf_nan=False)
    # Event streams (`GET /v1/batch/<id>/events`) one client (one address while open) may hold
    # open at once; one more is 429. Each holds a connection and polls the batch's status.
    max_streams_per_client: int = Field(default=4, ge=1, le=1000)

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "essay-orchestrator"
    # Batches (parents and chunks) run on a queue of their own, so that a flood of single
    # essays never stands ahead of a batch's create, page, trigger or cancel: the API waits for
    # those updates. Empty: TEMPORAL_TASK_QUEUE with "-batches" appended.
    temporal_batch_task_queue: str = ""
    # How long the API waits for Temporal before answering 503.
    temporal_rpc_timeout_s: float = Field(default=5.0, gt=0)

    # Content Service (HuleEdu's; the embedded content store speaks the same contract)
    content_service_url: str = "http://localhost:8000/v1/content"
    content_service_timeout_s: float = Field(default=10.0, gt=0)
    # Requests to the Content Service in flight at once, per worker process: more only makes
    # a small machine's batch slower (docs/performance.md).
    content_service_concurrency: int = Field(default=8, ge=1, le=1000)
    # Sent as `Authorization: Bearer <token>` where the Content Service wants a credential.
    content_service_token: SecretStr | None = None
    # A PEM file of the CA that signed an https Content Service's certificate (else the
    # system's CAs).
    content_service_ca_file: str | None = None

    # Payload encryption (codec/keys.py): `id:base64key,...`, the first encrypting. Unset:
    # payloads are written in clear. Every process that reads payloads (the API reads memos)
    # needs the same list.
    payload_keys: SecretStr | None = None
    # The codec endpoint (`python -m codec`) the Temporal UI calls to show payloads: an
    # operator's tool, on its own port and credential, never an API client's key.
    codec_host: str = "127.0.0.1"
    codec_port: int = Field(default=8234, ge=1, le=65535)
    codec_token: SecretStr | None = None
    # Browser origins allowed to call it: where the Temporal UI is served.
    codec_cors_origins: str = "http://127.0.0.1:8233,http://localhost:8233"

    # Kafka
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topic: str = "essay.spellcheck.requested.v1"
    # The spell checker's results (read by the results consumer) and our batch events.
    kafka_results_topic: str = "essay.spellcheck.completed.v1"
    kafka_batch_topic: str = "batch.spellcheck.completed.v1"
    kafka_results_group: str = "huleedu-orchestrator-results"
    # The results consumer's Prometheus endpoint (0: off).
    results_metrics_port: int = Field(default=9102, ge=0, le=65535)
    # True for Apache Kafka; the embedded broker (Tansu) rejects InitProducerId, so `make dev`
    # and the tests set it false.
    kafka_enable_idempotence: bool = True
    # A send that the broker does not acknowledge within this time fails, and Temporal retries
    # the activity: keep it well below the publish activity's start-to-close timeout.
    kafka_request_timeout_ms: int = Field(default=10_000, ge=1000)
    # A managed Kafka's security: TLS (SSL), SASL over TLS (SASL_SSL) or in clear.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # PEM files: the CA of the brokers' certificates (else the system's), and a client
    # certificate and its key where the brokers ask for one.
    kafka_ssl_ca_file: str | None = None
    kafka_ssl_cert_file: str | None = None
    kafka_ssl_key_file: str | None = None
    # gzip needs no library of its own; the other codecs would.
    kafka_compression: Literal["none", "gzip"] = "none"

    # How soon a killed worker or a cancel reaches a batch chunk's running activity.
    activity_heartbeat_timeout_s: float = Field(default=10.0, ge=1, le=600)
    # How often a batch's waiting chunks look whether their batch still runs, and a closing
    # batch at chunks that have not reported their end: how soon a workflow terminated in the
    # Temporal UI is noticed by the other side. Each look is a few history events.
    batch_check_s: float = Field(default=300.0, ge=1, le=86_400)

    # Following essays to their spellcheck results (the results consumer's topic below). A
    # request without a result for SPELLCHECK_TIMEOUT_S is sent again, up to
    # SPELLCHECK_MAX_REQUESTS requests, then the essay is spellcheck_timed_out; 0 follows no
    # results (essays end at published, for a spell checker that publishes none). Failed and
    # timed out essays take a retry for SPELLCHECK_RETRY_WINDOW_S (0: none).
    spellcheck_timeout_s: float = Field(default=1800.0, ge=1, le=7 * 86_400)
    spellcheck_max_requests: int = Field(default=3, ge=0, le=20)
    spellcheck_retry_window_s: float = Field(default=7 * 86_400, ge=0, le=90 * 86_400)

    def following(self) -> Following:
        return Following(
            max_requests=self.spellcheck_max_requests,
            timeout_s=self.spellcheck_timeout_s,
            retry_window_s=self.spellcheck_retry_window_s,
        )

    # Worker
    worker_graceful_shutdown_s: float = Field(default=10.0, ge=0)
    # Activities a worker runs at once. A chunk's store activity holds its texts (up to 384 KiB)
    # while it runs, and the content requests are capped by CONTENT_SERVICE_CONCURRENCY anyway: a
    # larger number only adds memory.
    # Activities beyond it wait in the task queue, on the server.
    worker_max_concurrent_activities: int = Field(default=16, ge=1, le=1000)
    # Added to the worker's niceness (and its session's, process_priority.py), so that where it
    # shares a machine with the API and the Temporal server they take the CPU first. Off by
    # default: at 10, a sustained stream of single essays on one machine starved the worker, and
    # batch creates, which wait for the worker to run the parent's update, answered 503
    # (tests/shutdown/test_rolling_restart.py failed at 10 and passed at 0).
    worker_nice: int = Field(default=0, ge=0, le=19)

    # Logs and metrics (docs/operations.md, "Metrics" and "Logs").
    # `json`: one JSON object per line, for log search; `text`: the same lines for people.
    log_format: Literal["json", "text"] = "json"
    # Prometheus endpoints, each on a port of its own (never the API's); 0 turns one off. The
    # API's and the worker's are both bound on HOST.
    api_metrics_port: int = Field(default=9100, ge=0, le=65535)
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)
    # How often each worker measures the backlog through Temporal's visibility store: a few
    # count and list calls per measurement (telemetry/backlog.py).
    backlog_interval_s: float = Field(default=15.0, ge=0.1, le=3600)

    @field_validator("api_metrics_port", "temporal_batch_task_queue")
    @classmethod
    def _apart(cls, value: int | str | None, info: ValidationInfo) -> int | str | None:
        """Two settings that must never be the same thing (unless the first is unset)."""
        other, why = APART[info.field_name or ""]
        if value and value == info.data.get(other):
            raise ValueError(f"must differ from {other.upper()}: {why}")
        return value

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Settings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_cert_file) != bool(self.kafka_ssl_key_file):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")
        tls_files = self.kafka_ssl_ca_file or self.kafka_ssl_cert_file
        if tls_files and not self.kafka_security_protocol.endswith("SSL"):
            raise ValueError(
                "KAFKA_SSL_* files are used only with KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL"
            )
        return self

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_payload_keys(value.get_secret_value())  # ValueError names the entry, not the key
        return value

    def payload_key_list(self) -> list[tuple[str, bytes]]:
        """The payload keys, first the one that encrypts; empty when encryption is off."""
        keys = self.payload_keys
        return parse_payload_keys(keys.get_secret_value()) if keys else []

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # `API_KEYS=` in a compose file means "no keys", as unset does
        parse_api_keys(value.get_secret_value())  # ValueError names the entry, not the key
        return value

    def as_env(self) -> dict[str, str]:
        """The environment variables that make another process (an API, a worker) read exactly
        these settings: how tests and tools start processes with the settings they chose."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = str(value).lower()
            env[name.upper()] = str(value)
        return env

    @property
    def batch_task_queue(self) -> str:
        """The queue batch parents and chunks run on."""
        return self.temporal_batch_task_queue or f"{self.temporal_task_queue}-batches"

    def key_ring(self) -> KeyRing | None:
        """The configured API keys, or None when the API runs open."""
        return parse_api_keys(self.api_keys.get_secret_value()) if self.api_keys else None


def load_settings() -> Settings:
    """Read the environment, turning a validation error into one message per bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors(include_url=False))
        raise SettingsError(f"invalid setting(s): {problems}") from None


def _problem(err: ErrorDetails) -> str:
    loc = err["loc"]
    if not loc:  # a rule between settings: its message names them, the input is all of them
        return err["msg"].removeprefix("Value error, ")
    named = f"{'.'.join(str(p) for p in loc).upper()}: {err['msg']}"
    return named if SECRET_SETTINGS & set(loc) else f"{named} (got {err.get('input')!r})"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return load_settings()
