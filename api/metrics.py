"""The API's Prometheus metrics, served on API_METRICS_PORT: a port of its own, never the API's.

- `huleedu_api_request_duration_seconds{route, method, status}`: a histogram per route
  *template* (`/v1/essays/<essay_id>/status`, never the path itself: ids would make a series per
  essay); its `_count` is the request rate.
- `huleedu_api_workflow_starts_total{workflow_type, outcome}`: each workflow start the API asks
  Temporal for (counted by an interceptor on its client), and how it went.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any, Literal

import prometheus_client
from quart import Quart, Response, g, request
from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    StartWorkflowUpdateWithStartInput,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.http.errors import UNAVAILABLE_CODES

log = logging.getLogger(__name__)

REQUEST_DURATION = prometheus_client.Histogram(
    "huleedu_api_request_duration_seconds",
    "HTTP requests by route template, method and status, and how long they took",
    ["route", "method", "status"],
    # From a health check (about a millisecond) to a Temporal call that times out (5 s).
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WORKFLOW_STARTS = prometheus_client.Counter(
    "huleedu_api_workflow_starts",
    "Workflow starts the API asked Temporal for, by workflow type and outcome",
    ["workflow_type", "outcome"],
)

# A request that matched no route (404, 405) has no template; one label keeps it bounded.
UNMATCHED_ROUTE = "<unmatched>"
# Methods a client invents would each make a series; they are counted together.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

StartOutcome = Literal["started", "already_started", "unavailable", "failed"]


def register_request_metrics(app: Quart) -> None:
    """Time every request. Register before any other hook: a hook that answers early (a 401,
    a 429) stops the ones after it, and the timer must have started by then."""

    @app.before_request
    async def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    async def observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            rule = request.url_rule
            method = request.method if request.method in KNOWN_METHODS else "other"
            REQUEST_DURATION.labels(
                rule.rule if rule is not None else UNMATCHED_ROUTE,
                method,
                str(response.status_code),
            ).observe(time.perf_counter() - started)
        return response


def start_outcome(exc: BaseException | None) -> StartOutcome:
    """How a start went, from what it raised (None: Temporal accepted it)."""
    if exc is None:
        return "started"
    if isinstance(exc, WorkflowAlreadyStartedError | WorkflowUpdateFailedError):
        # A closed run holds the id, or a running one refused the update that came with the
        # start (a batch already triggered, say): either way the workflow was there already.
        return "already_started"
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return "unavailable"
    if isinstance(exc, RPCError) and exc.status in UNAVAILABLE_CODES:
        return "unavailable"
    # The lazy client raises a plain RuntimeError while it cannot connect (see api/http/errors.py).
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return "unavailable"
    return "failed"


class WorkflowStartCounter(Interceptor):
    """Counts every workflow start the API's client makes, whichever route makes it.

    A start that joins a run already going (a batch's retried page, with the USE_EXISTING
    conflict policy) counts as `started`: Temporal's answer says which, but the SDK keeps it.
    """

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _CountingStarts(next)


class _CountingStarts(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        with _counting(input.workflow):
            return await super().start_workflow(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        with _counting(input.start_workflow_input.workflow):
            return await super().start_update_with_start_workflow(input)


@contextlib.contextmanager
def _counting(workflow_type: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        WORKFLOW_STARTS.labels(workflow_type, start_outcome(exc)).inc()
        raise
    WORKFLOW_STARTS.labels(workflow_type, "started").inc()


@contextlib.asynccontextmanager
async def serving_metrics(host: str, port: int):
    """Serve the default registry on host:port (its own thread) while the API serves."""
    try:
        server, thread = prometheus_client.start_http_server(port, addr=host)
    except OSError as exc:
        raise RuntimeError(
            f"cannot serve metrics on {host}:{port} ({exc}); set API_METRICS_PORT to a free "
            "port, or 0 to turn the endpoint off"
        ) from exc
    log.info("API metrics on http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=5)
