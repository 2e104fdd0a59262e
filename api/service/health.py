"""Probes, open to every caller (no API key, no rate limit):

- `GET /healthz`, liveness: answers as long as the process serves requests (the seed's shape),
  even while Temporal is down, so an orchestrator never restarts the API for a dependency.
- `GET /readyz`, readiness: 200 when Temporal answers, else 503, so traffic goes elsewhere.
"""

from __future__ import annotations

from quart import Blueprint, current_app

from api.service.readiness import ReadinessProbe
from api.temporal import temporal

health = Blueprint("health", __name__)

PROBE = "readiness"
PATHS = frozenset({"/healthz", "/readyz"})


@health.get("/healthz")
async def healthz():
    return {"status": "ok"}


@health.get("/readyz")
async def readyz():
    probe: ReadinessProbe = current_app.extensions[PROBE]
    result = await probe.check(temporal())
    if result.ready:
        return {"status": "ready", "checks": {"temporal": "ok"}, "latency_ms": result.latency_ms}
    return {
        "status": "not_ready",
        "error": "Service unavailable",
        "details": {"temporal": result.details},
    }, 503
