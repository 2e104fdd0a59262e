"""How every process here connects to Temporal: one place, one data converter, one runtime."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from settings import Settings

# The SDK core's own lines (connection trouble, mostly), forwarded into Python's logging so they
# come out in LOG_FORMAT like every other line instead of in the core's own text format.
CORE_LOGGER = "temporalio.core"


def build_runtime(metrics_address: str | None = None) -> Runtime:
    """The SDK's runtime: its core logs go through Python's logging, and with `metrics_address`
    (`host:port`) its metrics, and ours made with its meter, are served there for Prometheus.

    The SDK's metrics keep the names Temporal documents (`temporal_workflow_completed`, ...);
    only their durations are in seconds, Prometheus's unit, instead of milliseconds.
    """
    metrics = None
    if metrics_address:
        metrics = PrometheusConfig(bind_address=metrics_address, durations_as_seconds=True)
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
                ),
                metrics=metrics,
            )
        )
    except ValueError as exc:  # how the core reports an address it cannot bind
        raise MetricsPortUnavailable(f"cannot serve metrics on {metrics_address}: {exc}") from exc


class MetricsPortUnavailable(RuntimeError):
    """The metrics address cannot be bound: a configuration error, reported at start-up."""


async def connect(
    settings: Settings,
    *,
    lazy: bool = False,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the pydantic data converter (workflows exchange pydantic models).

    `lazy=True` defers the connection to the first call, so the API can start, and answer 503,
    while Temporal is unreachable. A worker's `runtime` carries its metrics: a worker reports
    through the runtime of the client it polls with.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
        runtime=runtime,
        interceptors=interceptors,
    )
