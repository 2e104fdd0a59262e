"""One trace from the POST to the event: the API and a worker process export their spans over
OTLP/HTTP to a collector the test runs, and the event's `traceparent` header names the trace the
request started."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from temporalio.contrib.pydantic import pydantic_data_converter

from contracts.essay import EssayInput
from tests.helpers import TopicReader, wait_until
from tests.stack import Stack, running_stack

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@dataclass
class Collector:
    """What an OTLP/HTTP collector received: (service, span name, trace id) per span."""

    spans: list[tuple[str, str, str]] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append((attributes["service.name"], span.name, span.trace_id.hex()))
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    def in_trace(self, trace_id: str) -> set[tuple[str, str]]:
        return {(service, name) for service, name, t in self.spans if t == trace_id}


@pytest.fixture(scope="module")
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    received = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", received.receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield received, str(server.make_url(""))
    await server.close()


@pytest.fixture(scope="module")
async def traced(
    collector, dev_env, broker, content_store, tmp_path_factory
) -> AsyncIterator[Stack]:
    _, endpoint = collector
    with pytest.MonkeyPatch.context() as env:  # the processes inherit these
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.rstrip("/"))
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # export within moments, not 5 s
        async with running_stack(
            dev_env, broker, content_store, tmp_path_factory, worker_process=True
        ) as stack:
            yield stack


async def event_traceparent(stack: Stack, essay_id: str) -> str:
    settings = stack.settings
    async with TopicReader(settings.kafka_bootstrap_servers, settings.kafka_topic) as reader:
        found = await reader.read_keys({essay_id.encode()}, timeout_s=60)
    return found[essay_id.encode()].headers["traceparent"].decode()


async def test_one_trace_runs_from_the_post_to_the_event_header(
    traced: Stack, collector: tuple[Collector, str]
) -> None:
    received, _ = collector
    # A caller that is itself traced: its trace goes on.
    answer = await traced.api.post(
        "/v1/trigger-spellcheck", json={"text": "Helo wrold"}, headers={"traceparent": CALLER}
    )
    assert answer.status_code == 202, answer.text
    header = await event_traceparent(traced, answer.json()["essay_id"])
    assert header.split("-")[1] == CALLER_TRACE

    async def all_spans() -> bool:
        names = {name for _, name in received.in_trace(CALLER_TRACE)}
        return {"content service store", "kafka send"} <= names

    await wait_until(all_spans, timeout_s=30, what="the worker's spans in the caller's trace")
    spans = received.in_trace(CALLER_TRACE)
    assert ("huleedu-api", "POST /v1/trigger-spellcheck") in spans
    assert any(s == "huleedu-worker" and n.startswith("RunWorkflow:") for s, n in spans)


async def test_a_batch_s_essays_belong_to_the_trace_of_their_page(
    traced: Stack, collector: tuple[Collector, str]
) -> None:
    batch_id = f"traced-{uuid.uuid4().hex[:8]}"
    created = await traced.api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": [{"essay_id": "a", "text": "Helo"}]},
        headers={"traceparent": CALLER},
    )
    assert created.status_code == 202, created.text
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    added = await traced.api.post(
        f"/v1/batch/{batch_id}/essays",
        json={"essays": [{"essay_id": "b", "text": "wrold"}]},
        headers={"traceparent": other},
    )
    assert added.status_code == 202, added.text
    assert (await traced.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    assert (await event_traceparent(traced, "a")).split("-")[1] == CALLER_TRACE
    assert (await event_traceparent(traced, "b")).split("-")[1] == other.split("-")[1]


async def test_the_event_s_traceparent_is_fixed_in_the_workflow_s_input(traced: Stack) -> None:
    # Taken from the input the history keeps, not from whichever activity attempt sends: a
    # publish repeated after a lost workflow task or a worker's death sends the same bytes.
    answer = await traced.api.post("/v1/trigger-spellcheck", json={"text": "same bytes"})
    essay_id = answer.json()["essay_id"]
    header = await event_traceparent(traced, essay_id)
    history = await traced.client.get_workflow_handle(f"essay-{essay_id}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [accepted] = await pydantic_data_converter.decode(started.input.payloads, [EssayInput])
    assert accepted.traceparent == header
