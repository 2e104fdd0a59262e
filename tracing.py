"""Tracing: OpenTelemetry spans for each HTTP request, workflow, activity, Content Service call
and Kafka send, one trace from the POST to the event.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the SDK's own variables configure the export:
`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, ...). On, every process installs a tracer
provider exporting over OTLP/HTTP, the Temporal client and worker carry the SDK's tracing
interceptor, and the W3C `traceparent` goes on Content Service requests and on each event's
headers. The event's is fixed when the essay is accepted (it rides in the workflow's input), so
a repeated publish stays byte-identical; a batch's essays carry their page's.
"""

from __future__ import annotations

import os

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

TRACEPARENT = "traceparent"
tracer = trace.get_tracer("huleedu.essay_orchestrator")


def configure_tracing(service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Install the process's tracer provider: with `exporter` (tests), or over OTLP when
    OTEL_EXPORTER_OTLP_ENDPOINT is set. False (and nothing installed) otherwise."""
    if exporter is None:
        if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


def tracing_on() -> bool:
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, None when nothing is traced."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def with_trace_context(headers: dict[str, str]) -> dict[str, str]:
    """`headers` plus the current span's W3C trace context, where there is one."""
    propagate.inject(headers)
    return headers


def temporal_interceptors() -> list:
    """The SDK's tracing interceptor, where tracing is on (it adds a header to every call)."""
    if not tracing_on():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]
