"""Liveness: `GET /healthz` answers as long as the process serves requests (the seed's shape)."""

from __future__ import annotations

from quart import Blueprint

health = Blueprint("health", __name__)


@health.get("/healthz")
async def healthz():
    return {"status": "ok"}
