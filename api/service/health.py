"""Probes, open to every caller (no API key, no rate limit):

- `GET /healthz`, liveness: answers as long as the process serves requests (the shape the
  HuleEdu Batch Service specification gives), even while Temporal is down, so an orchestrator
  never restarts the API for a dependency.
- `GET /readyz`, readiness: 200 when Temporal answers, else 503, so traffic goes elsewhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from quart import Blueprint, current_app

from api.http.answers import Answer
from api.service.readiness import ReadinessProbe
from api.temporal import temporal

health = Blueprint("health", __name__)

PROBE = "readiness"
PATHS = frozenset({"/healthz", "/readyz"})


class Health(Answer):
    status: Literal["ok"] = "ok"


class Ready(Answer):
    status: Literal["ready"] = "ready"
    checks: dict[str, Literal["ok"]]
    latency_ms: float


class NotReady(Answer):
    """`/readyz` when a dependency does not answer: the error shape, plus `status`."""

    status: Literal["not_ready"] = "not_ready"
    error: str
    details: dict[str, str] = Field(description="what failed, by dependency")


@health.get("/healthz")
async def healthz():
    return Health().body()


@health.get("/readyz")
async def readyz():
    probe: ReadinessProbe = current_app.extensions[PROBE]
    result = await probe.check(temporal())
    if result.ready:
        return Ready(checks={"temporal": "ok"}, latency_ms=result.latency_ms).body()
    return NotReady(error="Service unavailable", details={"temporal": result.details}).body(), 503
