"""The API's app factory: `hypercorn "api.app:create_app()" -c file:hypercorn_config.py`."""

from __future__ import annotations

import gc
import logging

from quart import Quart
from temporalio.client import Client

from api.access.auth import register_access
from api.access.rate_limit import RateLimiter
from api.batches.events import events
from api.batches.routes import batches
from api.essays.routes import essays
from api.http.correlation import register_correlation
from api.http.draining import hard_cap, register_draining
from api.http.errors import register_error_handlers
from api.http.stopping import register_stopping
from api.http.tracing import register_tracing
from api.metrics import WorkflowStartCounter, register_request_metrics, serving_metrics
from api.service.docs import documentation
from api.service.health import PROBE, health
from api.service.readiness import ReadinessProbe
from api.status_cache import StatusCache
from api.temporal import EXTENSION, STATUS_CACHE
from logging_setup import configure_logging
from settings import Settings, get_settings
from temporal_client import TemporalConfigError, build_runtime, connect, connect_config
from tracing import configure_tracing

log = logging.getLogger(__name__)


def create_app(temporal_client: Client | None = None, settings: Settings | None = None) -> Quart:
    """Build the app; tests inject a client and settings, production reads the environment."""
    settings = settings or get_settings()
    if temporal_client is None:
        configure_logging(settings.log_level, settings.log_format)
    # No static folder: Quart would otherwise serve /static/<path>, a route nobody documents.
    app = Quart(__name__, static_folder=None)
    # First: its timer must start before any other hook can answer the request.
    register_request_metrics(app)
    # Each route applies its own body limit; up to this hard cap a larger body is still read
    # (and dropped) so that the client hears the 413 (api/http/draining.py); past it, it is cut off.
    app.config["MAX_CONTENT_LENGTH"] = hard_cap(
        max(settings.max_request_bytes, settings.max_batch_request_bytes)
    )
    app.extensions["settings"] = settings
    app.extensions[PROBE] = ReadinessProbe(
        settings.temporal_namespace, settings.readiness_timeout_s
    )
    app.extensions[STATUS_CACHE] = StatusCache(settings.status_max_age_s)
    if temporal_client is None:
        configure_tracing("huleedu-api")  # where OTEL_EXPORTER_OTLP_ENDPOINT is set
    register_tracing(app)  # first: the request's span holds everything that follows
    register_correlation(app)  # before access control: a refused request gets one too
    register_access(app, settings.key_ring(), _rate_limiter(settings))
    register_error_handlers(app)
    register_draining(app)
    # A served API (not a test's app) notices SIGTERM at once, so its event streams end.
    register_stopping(app, watch_signals=temporal_client is None)
    app.register_blueprint(health)
    if temporal_client is None:
        try:
            connect_config(settings)  # a bad profile stops start-up now, saying why
        except TemporalConfigError as exc:
            raise SystemExit(f"api: {exc}") from None
    app.register_blueprint(essays)
    app.register_blueprint(batches)
    app.register_blueprint(events)
    app.register_blueprint(documentation)

    @app.before_serving
    async def connect_temporal() -> None:
        if temporal_client is not None:
            app.extensions[EXTENSION] = temporal_client
            return
        # Lazy: the API starts and answers 503 while Temporal is unreachable, then recovers.
        app.extensions[EXTENSION] = await connect(
            settings, lazy=True, runtime=build_runtime(), interceptors=[WorkflowStartCounter()]
        )
        # What exists now (modules, the app, the client, about 100k objects) lives as long as
        # the process. Frozen, it is left out of every later full collection, which otherwise
        # walked all of it, pausing every request in flight.
        gc.collect()
        gc.freeze()
        log.info("API ready; Temporal at %s", settings.temporal_address)

    @app.after_serving
    async def stop_status_reads() -> None:
        await app.extensions[STATUS_CACHE].close()

    if temporal_client is None and settings.api_metrics_port:
        # A process of its own (tests inject a client and serve no metrics port).
        @app.while_serving
        async def metrics_endpoint():
            async with serving_metrics(settings.host, settings.api_metrics_port):
                yield

    return app


def _rate_limiter(settings: Settings) -> RateLimiter | None:
    if not settings.rate_limit_per_s:
        return None
    return RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
