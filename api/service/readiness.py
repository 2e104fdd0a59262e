"""Readiness: does Temporal answer, within a short deadline, for our namespace?

The API can accept work exactly when it can start workflows, so the probe is one cheap call
that needs both the server and the namespace: `DescribeNamespace`. It is also the call that
makes the lazy client connect, so a Temporal that comes back turns the answer to ready without
a restart.

Probes that arrive while one is in flight share its answer: a flood of `/readyz` costs
Temporal one call at a time. A change of answer is logged once, not at every probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    details: str  # why not ready; "" when ready
    latency_ms: float


class ReadinessProbe:
    def __init__(self, namespace: str, timeout_s: float) -> None:
        self._namespace = namespace
        self._timeout_s = timeout_s
        self._in_flight: asyncio.Future[Readiness] | None = None
        self._last_ready: bool | None = None

    async def check(self, client: Client) -> Readiness:
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.ensure_future(self._probe(client))
        # Shielded: a caller that goes away must not cancel the probe the others wait on.
        return await asyncio.shield(self._in_flight)

    async def _probe(self, client: Client) -> Readiness:
        started = time.monotonic()
        try:
            # wait_for also bounds the connect that a lazy client makes first.
            await asyncio.wait_for(self._describe_namespace(client), timeout=self._timeout_s)
            details = ""
        except TimeoutError:
            details = f"Temporal did not answer within {self._timeout_s:g} s"
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                details = f"Temporal has no namespace {self._namespace!r}"
            elif exc.status == RPCStatusCode.UNAVAILABLE:
                details = "Temporal is unreachable"
            else:
                details = f"Temporal answered {exc.status.name}"
        except RuntimeError as exc:  # the lazy client's "Failed client connect"
            details = "Temporal is unreachable"
            log.debug("readiness connect failed: %s", exc)
        result = Readiness(not details, details, round((time.monotonic() - started) * 1000, 1))
        self._log_change(result)
        return result

    async def _describe_namespace(self, client: Client) -> None:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self._namespace),
            timeout=timedelta(seconds=self._timeout_s),
        )

    def _log_change(self, result: Readiness) -> None:
        if result.ready == self._last_ready:
            return
        self._last_ready = result.ready
        if result.ready:
            log.info("ready: Temporal answers (%.1f ms)", result.latency_ms)
        else:
            log.warning("not ready: %s", result.details)
