"""A span for each HTTP request, continuing the caller's trace (W3C `traceparent`) when it
sends one: the workflows it starts, their activities and the events belong to it."""

from __future__ import annotations

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind
from quart import Quart, Response, g, request

from tracing import tracer, tracing_on


def register_tracing(app: Quart) -> None:
    if not tracing_on():
        return

    @app.before_request
    async def start_span() -> None:
        parent = propagate.extract(request.headers)  # Headers: case-insensitive, as HTTP is
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        span = tracer.start_span(f"{request.method} {route}", context=parent, kind=SpanKind.SERVER)
        span.set_attribute("http.request.method", request.method)
        span.set_attribute("http.route", route)
        g.trace_span = span
        g.trace_token = context.attach(trace.set_span_in_context(span, parent))

    @app.after_request
    async def end_span(response: Response) -> Response:
        span = g.pop("trace_span", None)
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            span.end()
            context.detach(g.pop("trace_token"))
        return response
