"""The API's app factory: `hypercorn "api.app:create_app()" -c file:hypercorn_config.py`."""

from __future__ import annotations

import logging

from quart import Quart
from temporalio.client import Client

from api.batches import batches
from api.correlation import register_correlation
from api.documentation import documentation
from api.draining import hard_cap, register_draining
from api.errors import register_error_handlers
from api.essays import essays
from api.health import health
from api.temporal import EXTENSION
from logging_setup import configure_logging
from settings import Settings, get_settings
from temporal_client import connect

log = logging.getLogger(__name__)


def create_app(temporal_client: Client | None = None, settings: Settings | None = None) -> Quart:
    """Build the app; tests inject a client and settings, production reads the environment."""
    settings = settings or get_settings()
    if temporal_client is None:
        configure_logging(settings.log_level)
    # No static folder: Quart would otherwise serve /static/<path>, a route nobody documents.
    app = Quart(__name__, static_folder=None)
    # Each route applies its own body limit; up to this hard cap a larger body is still read
    # (and dropped) so that the client hears the 413 (api/draining.py); past it, it is cut off.
    app.config["MAX_CONTENT_LENGTH"] = hard_cap(
        max(settings.max_request_bytes, settings.max_batch_request_bytes)
    )
    app.extensions["settings"] = settings
    register_correlation(app)
    register_error_handlers(app)
    register_draining(app)
    app.register_blueprint(health)
    app.register_blueprint(essays)
    app.register_blueprint(batches)
    app.register_blueprint(documentation)

    @app.before_serving
    async def connect_temporal() -> None:
        if temporal_client is not None:
            app.extensions[EXTENSION] = temporal_client
            return
        # Lazy: the API starts and answers 503 while Temporal is unreachable, then recovers.
        app.extensions[EXTENSION] = await connect(settings, lazy=True)
        log.info("API ready; Temporal at %s", settings.temporal_address)

    return app
