"""How every process here connects to Temporal: one place, one data converter, one runtime.

Where and how to connect comes from the SDK's environment configuration
(`temporalio.envconfig`): a profile in a TOML file (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`)
and the `TEMPORAL_*` variables over it: `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
`TEMPORAL_TLS_CLIENT_CERT_PATH`, `TEMPORAL_TLS_CLIENT_KEY_PATH`,
`TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_SERVER_NAME`, ... The address and namespace
are also settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, the same names): given, they win.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from temporalio.client import Client, Interceptor, WorkflowExecutionDescription
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode

from settings import Settings
from tracing import temporal_interceptors

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


class TemporalConfigError(ValueError):
    """The environment configuration cannot be read (a missing file, a bad profile)."""


def connect_config(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> ClientConnectConfig:
    """Address, namespace, API key, TLS and gRPC metadata as the SDK's environment
    configuration gives them (from `environ`, by default the process's), with the address and
    namespace these settings were given explicitly; unset anywhere, the settings' defaults."""
    try:
        profile = ClientConfigProfile.load(override_env_vars=environ)
        config = profile.to_client_connect_config()
    except Exception as exc:  # the SDK reports a bad file or profile in several types
        raise TemporalConfigError(f"Temporal's connection configuration: {exc}") from exc
    given = settings.model_fields_set
    if "temporal_address" in given or "target_host" not in config:
        config["target_host"] = settings.temporal_address
    if "temporal_namespace" in given or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    return config


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as JSON, encrypted when PAYLOAD_KEYS is set."""
    keys = settings.payload_key_list()
    if not keys:
        return pydantic_data_converter
    from codec.aes_gcm import AesGcmCodec  # the cipher is loaded only where it is used

    return dataclasses.replace(pydantic_data_converter, payload_codec=AesGcmCodec(keys))


async def connect(
    settings: Settings,
    *,
    lazy: bool = False,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect as `connect_config` says, with the pydantic data converter (workflows exchange
    pydantic models).

    `lazy=True` defers the connection to the first call, so the API can start, and answer 503,
    while Temporal is unreachable. A worker's `runtime` carries its metrics: a worker reports
    through the runtime of the client it polls with.
    """
    return await Client.connect(
        **connect_config(settings),
        data_converter=data_converter(settings),
        lazy=lazy,
        runtime=runtime,
        interceptors=[*interceptors, *temporal_interceptors()],
    )


async def describe_if_any(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """The workflow's latest run as the server has it; None when no workflow has the id."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
