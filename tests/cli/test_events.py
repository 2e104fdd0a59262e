"""Reading server-sent events, and following a batch's stream across a dropped connection,
against canned bytes and a scripted transport (the real stream: tests/api/test_batch_events.py
and tests/cli/test_cli_flow.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from batch_cli.api_client import ApiClient
from batch_cli.errors import UNREACHABLE, ApiRefused, CliError
from batch_cli.events import batch_events
from batch_cli.sse import Event, EventReader, read_events


def lines_of(raw: bytes) -> list[str]:
    """The stream's lines as httpx splits them (CR, LF and CRLF alike)."""
    return list(httpx.Response(200, content=raw).iter_lines())


def test_events_are_read_as_the_standard_says() -> None:
    raw = (
        b": keep-alive\r\n\r\n"
        b'event: status\r\nid: 3\r\ndata: {"a": 1}\r\n\r\n'
        b"data:two\ndata: lines\n\n"  # no space after the colon; data lines joined with \n
        b"id: 9\n\n"  # an id alone dispatches nothing, but is kept
        b"event: status\rdata: x\r\r"
        b"retry: 1000\nunknown: field\ndata\n\n"  # a field without a colon has an empty value
        b"event: status\ndata: cut off"  # no blank line: never dispatched
    )
    reader = EventReader()
    events = list(read_events(lines_of(raw), reader))
    assert events == [
        Event("status", '{"a": 1}', "3"),
        Event("message", "two\nlines", "3"),
        Event("status", "x", "9"),
        Event("message", "", "9"),
    ]
    assert reader.comments == 1
    assert reader.last_id == "9"


def sse(*statuses: dict, final_last: bool = False) -> bytes:
    out = b""
    for n, status in enumerate(statuses, 1):
        data = {**status, "final": final_last and n == len(statuses)}
        out += f"event: status\nid: {status['version']}\ndata: {json.dumps(data)}\n\n".encode()
    return out


def status(version: int, state: str) -> dict:
    return {"batch_id": "b", "state": state, "version": version, "counts": {"total": 1}}


def dropping(first: bytes) -> Iterator[bytes]:
    yield first
    raise httpx.ReadError("connection reset by peer")


def test_a_dropped_stream_is_opened_again_from_its_last_event() -> None:
    final = sse(status(4, "completed"), final_last=True)
    answers = iter(
        [
            # Dropped mid-stream, then ended without a final event (the API was stopped).
            httpx.Response(200, content=dropping(sse(status(1, "storing")))),
            httpx.Response(200, content=sse(status(2, "ready"), status(3, "spellcheck_requested"))),
            httpx.Response(200, content=b": keep-alive\n\n" + final),
        ]
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    pauses: list[float] = []
    transport = httpx.MockTransport(handler)
    with ApiClient("http://api.test", transport=transport) as client:
        statuses = list(batch_events(client, "b 1", pause_s=0.25, sleep=pauses.append))

    assert [(s["version"], s["final"]) for s in statuses] == [
        (1, False), (2, False), (3, False), (4, True),
    ]  # fmt: skip
    assert [r.url.raw_path for r in seen] == [b"/v1/batch/b%201/events"] * 3
    assert [r.headers.get("Last-Event-ID") for r in seen] == [None, "1", "3"]
    assert seen[0].headers["Accept"] == "text/event-stream"
    assert pauses == [0.25, 0.25]


def test_following_stops_where_the_caller_is_done() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse(status(1, "storing"), status(2, "ready")))

    with ApiClient("http://api.test", transport=httpx.MockTransport(handler)) as client:
        statuses = list(batch_events(client, "b", lambda s: s["state"] == "ready"))
    assert [s["state"] for s in statuses] == ["storing", "ready"]


def test_an_unknown_batch_is_refused_with_a_hint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "Not Found", "details": "no batch with id b"})

    with (
        pytest.raises(ApiRefused) as caught,
        ApiClient("http://api.test", transport=httpx.MockTransport(handler)) as client,
    ):
        list(batch_events(client, "b"))
    assert caught.value.status == 404
    assert any("another API key" in hint for hint in caught.value.hints)


def test_a_refused_first_connection_is_unreachable_at_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with (
        pytest.raises(CliError) as caught,
        ApiClient("http://api.test", transport=httpx.MockTransport(handler)) as client,
    ):
        list(batch_events(client, "b", sleep=lambda s: pytest.fail("no retry expected")))
    assert caught.value.exit_code == UNREACHABLE


def test_a_stream_that_stays_dropped_gives_up_after_retry_for() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(200, content=sse(status(1, "storing")))
        raise httpx.ConnectError("connection refused")  # the API is gone for good

    transport = httpx.MockTransport(handler)
    with (
        pytest.raises(CliError) as caught,
        ApiClient("http://api.test", transport=transport, retry_for_s=0) as client,
    ):
        list(batch_events(client, "b", sleep=lambda s: None))
    assert caught.value.exit_code == UNREACHABLE
    assert calls >= 2
