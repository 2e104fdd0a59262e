"""The API's access to Temporal: the client stored on the app, and call timeouts."""

from __future__ import annotations

from datetime import timedelta

from quart import current_app
from temporalio.client import Client

from api.status_cache import StatusCache
from settings import Settings

EXTENSION = "temporal"
STATUS_CACHE = "status_cache"


def temporal() -> Client:
    return current_app.extensions[EXTENSION]


def status_cache() -> StatusCache:
    return current_app.extensions[STATUS_CACHE]


def settings() -> Settings:
    return current_app.extensions["settings"]


def rpc_timeout() -> timedelta:
    """Bound every call so an unreachable Temporal becomes a 503, not a hung request."""
    return timedelta(seconds=settings().temporal_rpc_timeout_s)
