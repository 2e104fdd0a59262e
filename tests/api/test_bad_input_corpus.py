"""A corpus of bad requests to every endpoint of the real API (Hypercorn, the dev server and a
worker behind it), sent byte for byte as written: each gets the right 4xx, as JSON
`{"error", "details"}`, with a status the OpenAPI document lists for that operation.

Each case is one line: a name, the method and target, the body, the status it must get and,
for validation failures, the field the details must name. `{open}`, `{triggered}`,
`{cancelled}` and `{essay}` stand for a batch or essay that exists (made once per module).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest

from api.http.errors import ErrorBody
from api.service.openapi import build_document
from settings import Settings
from tests.raw_http import RawResponse, send
from tests.stack import Stack

JSON = "application/json"
MIB = 1024 * 1024
TRIGGER = "/v1/trigger-spellcheck"


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def chunked(data: bytes) -> bytes:
    """`data` in HTTP/1.1 chunked transfer coding: a body with no Content-Length."""
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


CHUNKED = (("Transfer-Encoding", "chunked"),)


def essays(count: int, text: str = "An essay.") -> bytes:
    return body({"essays": [{"text": text} for _ in range(count)]})


@dataclass(frozen=True)
class Bad:
    name: str
    method: str
    target: str
    status: int
    data: bytes = b""
    content_type: str | None = JSON
    headers: tuple[tuple[str, bytes | str], ...] = ()
    field: str | None = None  # a field the details must name


# One case a line, as a table: the formatter would spread each over six lines.
# fmt: off
CORPUS = [
    # --- POST /v1/trigger-spellcheck ---------------------------------------------------------
    Bad("malformed json", "POST", TRIGGER, 400, b"{bad"),
    Bad("empty body", "POST", TRIGGER, 400, b""),
    Bad("truncated json", "POST", TRIGGER, 400, b'{"text": "a"'),
    Bad("trailing garbage", "POST", TRIGGER, 400, b'{"text": "a"} x'),
    Bad("json array", "POST", TRIGGER, 400, b"[1, 2]", field="body"),
    Bad("json string", "POST", TRIGGER, 400, b'"text"', field="body"),
    Bad("json null", "POST", TRIGGER, 400, b"null", field="body"),
    Bad("missing text", "POST", TRIGGER, 400, b"{}", field="text"),
    Bad("empty text", "POST", TRIGGER, 400, body({"text": ""}), field="text"),
    Bad("white space text", "POST", TRIGGER, 400, body({"text": " \n\t\u00a0\u3000"}),
        field="text"),
    Bad("text a number", "POST", TRIGGER, 400, b'{"text": 42}', field="text"),
    Bad("text null", "POST", TRIGGER, 400, b'{"text": null}', field="text"),
    Bad("text a list", "POST", TRIGGER, 400, b'{"text": ["a"]}', field="text"),
    Bad("text an object", "POST", TRIGGER, 400, b'{"text": {"a": 1}}', field="text"),
    Bad("text true", "POST", TRIGGER, 400, b'{"text": true}', field="text"),
    Bad("unknown field", "POST", TRIGGER, 400, body({"text": "a", "txet": "b"}), field="txet"),
    Bad("essay id with space", "POST", TRIGGER, 400, body({"text": "a", "essay_id": "a b"}),
        field="essay_id"),
    Bad("essay id too long", "POST", TRIGGER, 400, body({"text": "a", "essay_id": "x" * 65}),
        field="essay_id"),
    Bad("essay id dot-dot", "POST", TRIGGER, 400, body({"text": "a", "essay_id": ".."}),
        field="essay_id"),
    Bad("essay id with slash", "POST", TRIGGER, 400, body({"text": "a", "essay_id": "a/../b"}),
        field="essay_id"),
    Bad("essay id unicode", "POST", TRIGGER, 400, body({"text": "a", "essay_id": "élève"}),
        field="essay_id"),
    Bad("essay id empty", "POST", TRIGGER, 400, body({"text": "a", "essay_id": ""}),
        field="essay_id"),
    Bad("essay id a number", "POST", TRIGGER, 400, b'{"text": "a", "essay_id": 7}',
        field="essay_id"),
    Bad("essay id trailing newline", "POST", TRIGGER, 400,
        body({"text": "a", "essay_id": "abc\n"}), field="essay_id"),
    Bad("invalid utf-8", "POST", TRIGGER, 400, b'{"text": "\xff\xfe"}'),
    Bad("utf-16 body", "POST", TRIGGER, 400, '{"text": "a"}'.encode("utf-16")),
    Bad("byte order mark", "POST", TRIGGER, 400, b'\xef\xbb\xbf{"text": "a"}'),
    Bad("lone surrogate", "POST", TRIGGER, 400, b'{"text": "a\\ud800"}'),
    Bad("lone surrogate, upper case", "POST", TRIGGER, 400, b'{"text": "a\\uDC00"}'),
    Bad("NaN", "POST", TRIGGER, 400, b'{"text": NaN}'),
    Bad("infinite number", "POST", TRIGGER, 400, b'{"text": "a", "n": 1e400}'),
    Bad("duplicate member", "POST", TRIGGER, 400, b'{"text": "a", "text": "b"}'),
    Bad("5000-digit number", "POST", TRIGGER, 400, b'{"text": "a", "n": ' + b"9" * 5000 + b"}"),
    Bad("nested 100k deep", "POST", TRIGGER, 400, b"[" * 100_000 + b"]" * 100_000),
    Bad("body over 1 MiB", "POST", TRIGGER, 413, body({"text": "a" * MIB})),
    Bad("chunked body over 1 MiB", "POST", TRIGGER, 413, chunked(body({"text": "a" * MIB})),
        headers=CHUNKED),
    Bad("chunked malformed json", "POST", TRIGGER, 400, chunked(b'{"text": '), headers=CHUNKED),
    Bad("text/plain", "POST", TRIGGER, 415, body({"text": "a"}), content_type="text/plain"),
    Bad("2 MiB of text/plain", "POST", TRIGGER, 415, b"t" * (2 * MIB), content_type="text/plain"),
    Bad("no content type", "POST", TRIGGER, 415, body({"text": "a"}), content_type=None),
    Bad("form encoded", "POST", TRIGGER, 415, b"text=a",
        content_type="application/x-www-form-urlencoded"),
    Bad("multipart", "POST", TRIGGER, 415, b"--x--",
        content_type="multipart/form-data; boundary=x"),
    Bad("idempotency key too long", "POST", TRIGGER, 400, body({"text": "a"}),
        headers=(("Idempotency-Key", "k" * 256),), field="Idempotency-Key"),
    Bad("idempotency key not ascii", "POST", TRIGGER, 400, body({"text": "a"}),
        headers=(("Idempotency-Key", b"cl\xe9"),), field="Idempotency-Key"),
    Bad("bad idempotency key beside an id", "POST", TRIGGER, 400,
        body({"text": "a", "essay_id": "fine"}), headers=(("Idempotency-Key", "k" * 300),),
        field="Idempotency-Key"),
    Bad("same essay id, other text", "POST", TRIGGER, 409,
        body({"text": "a different text", "essay_id": "{essay}"})),
    Bad("GET on a POST route", "GET", TRIGGER, 405, content_type=None),
    Bad("PUT on a POST route", "PUT", TRIGGER, 405, body({"text": "a"})),
    Bad("PUT of 2 MiB", "PUT", TRIGGER, 405, body({"text": "a" * (2 * MIB)})),
    Bad("DELETE on a POST route", "DELETE", TRIGGER, 405, content_type=None),
    # --- GET /v1/essays/{essay_id}/status --------------------------------------------------
    Bad("unknown essay", "GET", "/v1/essays/never-submitted/status", 404, content_type=None),
    Bad("retry an unknown essay", "POST", "/v1/essays/never-submitted/retry", 404),
    Bad("retry a bad essay id", "POST", "/v1/essays/a%20b/retry", 400, field="essay_id"),
    Bad("id with space", "GET", "/v1/essays/a%20b/status", 400, content_type=None,
        field="essay_id"),
    Bad("dot-dot segment", "GET", "/v1/essays/../status", 400, content_type=None,
        field="essay_id"),
    Bad("encoded dot-dot", "GET", "/v1/essays/%2e%2e/status", 400, content_type=None,
        field="essay_id"),
    Bad("dot segment", "GET", "/v1/essays/./status", 400, content_type=None, field="essay_id"),
    Bad("encoded slash", "GET", "/v1/essays/a%2Fb/status", 404, content_type=None),
    Bad("encoded backslash", "GET", "/v1/essays/a%5Cb/status", 400, content_type=None,
        field="essay_id"),
    Bad("5000-character id", "GET", f"/v1/essays/{'a' * 5000}/status", 400, content_type=None,
        field="essay_id"),
    Bad("unicode id", "GET", "/v1/essays/%C3%A9l%C3%A8ve/status", 400, content_type=None,
        field="essay_id"),
    Bad("invalid utf-8 id", "GET", "/v1/essays/%FF%FE/status", 400, content_type=None,
        field="essay_id"),
    Bad("NUL in id", "GET", "/v1/essays/a%00b/status", 400, content_type=None,
        field="essay_id"),
    Bad("newline after id", "GET", "/v1/essays/abc%0A/status", 400, content_type=None,
        field="essay_id"),
    Bad("POST on a GET route", "POST", "/v1/essays/{essay}/status", 405, body({})),
    Bad("DELETE an essay", "DELETE", "/v1/essays/{essay}/status", 405, content_type=None),
    # --- POST /v1/batch ---------------------------------------------------------------------
    Bad("batch without essays", "POST", "/v1/batch", 400, b"{}", field="essays"),
    Bad("batch of no essays", "POST", "/v1/batch", 400, body({"essays": []}), field="essays"),
    Bad("essays not a list", "POST", "/v1/batch", 400, body({"essays": "x"}), field="essays"),
    Bad("essay without text", "POST", "/v1/batch", 400, body({"essays": [{}]}),
        field="essays.0.text"),
    Bad("essay of white space", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "ok"}, {"text": "\u2028 \t"}]}), field="essays.1.text"),
    Bad("essay ids repeat", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "a", "essay_id": "x"}, {"text": "b", "essay_id": "x"}]}),
        field="body"),
    Bad("bad batch id", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "a"}], "batch_id": "a/b"}), field="batch_id"),
    Bad("dots-only batch id", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "a"}], "batch_id": "..."}), field="batch_id"),
    Bad("metadata not an object", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "a"}], "metadata": [1]}), field="metadata"),
    Bad("metadata over 8 KiB", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "a"}], "metadata": {"note": "n" * 9000}}), field="metadata"),
    Bad("metadata 40 levels deep", "POST", "/v1/batch", 400,
        b'{"essays": [{"text": "a"}], "metadata": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}",
        field="metadata"),
    Bad("metadata 900 levels deep", "POST", "/v1/batch", 400,
        b'{"essays": [{"text": "a"}], "metadata": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}"),
    Bad("metadata NaN", "POST", "/v1/batch", 400,
        b'{"essays": [{"text": "a"}], "metadata": {"a": NaN}}'),
    Bad("metadata lone surrogate", "POST", "/v1/batch", 400,
        b'{"essays": [{"text": "a"}], "metadata": {"\\udc00": 1}}'),
    Bad("essay over 384 KiB", "POST", "/v1/batch", 400, essays(1, "a" * (384 * 1024 + 1)),
        field="essays.0.text"),
    Bad("501 essays", "POST", "/v1/batch", 413, essays(501)),
    Bad("body over 4 MiB", "POST", "/v1/batch", 413, essays(11, "b" * (380 * 1024))),
    Bad("unknown batch field", "POST", "/v1/batch", 400,
        body({"essays": [{"text": "a"}], "name": "x"}), field="name"),
    Bad("same batch id, other essays", "POST", "/v1/batch", 409,
        body({"batch_id": "{open}", "essays": [{"text": "something else"}]})),
    Bad("batch as text/plain", "POST", "/v1/batch", 415, essays(1), content_type="text/plain"),
    Bad("batch idempotency key too long", "POST", "/v1/batch", 400, essays(1),
        headers=(("Idempotency-Key", "k" * 256),), field="Idempotency-Key"),
    Bad("GET the batch collection", "GET", "/v1/batch", 405, content_type=None),
    Bad("trailing slash", "POST", "/v1/batch/", 404, essays(1)),
    # --- POST /v1/batch/{batch_id}/essays ---------------------------------------------------
    Bad("page for an unknown batch", "POST", "/v1/batch/no-such-batch/essays", 404, essays(1)),
    Bad("page for a bad batch id", "POST", "/v1/batch/a%20b/essays", 400, essays(1),
        field="batch_id"),
    Bad("page after the trigger", "POST", "/v1/batch/{triggered}/essays", 409, essays(1)),
    Bad("page after a cancel", "POST", "/v1/batch/{cancelled}/essays", 409, essays(1)),
    Bad("page repeats an essay id", "POST", "/v1/batch/{open}/essays", 409,
        body({"essays": [{"text": "again", "essay_id": "e1"}]})),
    Bad("page of malformed json", "POST", "/v1/batch/{open}/essays", 400, b'{"essays": [}'),
    Bad("page of no essays", "POST", "/v1/batch/{open}/essays", 400, body({"essays": []}),
        field="essays"),
    Bad("page of 501 essays", "POST", "/v1/batch/{open}/essays", 413, essays(501)),
    Bad("page as a form", "POST", "/v1/batch/{open}/essays", 415, b"essays=1",
        content_type="application/x-www-form-urlencoded"),
    # --- POST /v1/batch/{batch_id}/spellcheck and /cancel ----------------------------------
    Bad("trigger an unknown batch", "POST", "/v1/batch/no-such-batch/spellcheck", 404),
    Bad("trigger twice", "POST", "/v1/batch/{triggered}/spellcheck", 409),
    Bad("trigger a cancelled batch", "POST", "/v1/batch/{cancelled}/spellcheck", 409),
    Bad("trigger a 65-character id", "POST", f"/v1/batch/{'b' * 65}/spellcheck", 400,
        field="batch_id"),
    Bad("GET the trigger", "GET", "/v1/batch/{open}/spellcheck", 405, content_type=None),
    Bad("cancel an unknown batch", "POST", "/v1/batch/no-such-batch/cancel", 404),
    Bad("cancel twice", "POST", "/v1/batch/{cancelled}/cancel", 409),
    Bad("cancel dot-dot", "POST", "/v1/batch/../cancel", 400, field="batch_id"),
    # --- POST /v1/batch/{batch_id}/retry ---------------------------------------------------
    Bad("retry an unknown batch", "POST", "/v1/batch/no-such-batch/retry", 404),
    Bad("retry a batch not spellchecked", "POST", "/v1/batch/{open}/retry", 409),
    Bad("retry a cancelled batch", "POST", "/v1/batch/{cancelled}/retry", 409),
    Bad("retry a bad batch id", "POST", "/v1/batch/a%20b/retry", 400, field="batch_id"),
    # --- GET /v1/batch/{batch_id}/status ----------------------------------------------------
    Bad("status of an unknown batch", "GET", "/v1/batch/no-such-batch/status", 404,
        content_type=None),
    Bad("limit 0", "GET", "/v1/batch/{open}/status?limit=0", 400, content_type=None,
        field="limit"),
    Bad("limit 101", "GET", "/v1/batch/{open}/status?limit=101", 400, content_type=None,
        field="limit"),
    Bad("negative offset", "GET", "/v1/batch/{open}/status?offset=-1", 400, content_type=None,
        field="offset"),
    Bad("limit not a number", "GET", "/v1/batch/{open}/status?limit=ten", 400,
        content_type=None, field="limit"),
    Bad("superscript digit", "GET", "/v1/batch/{open}/status?limit=%C2%B2", 400,
        content_type=None, field="limit"),
    Bad("arabic-indic digit", "GET", "/v1/batch/{open}/status?offset=%D9%A3", 400,
        content_type=None, field="offset"),
    Bad("5000-digit offset", "GET", f"/v1/batch/{{open}}/status?offset={'9' * 5000}", 400,
        content_type=None, field="offset"),
    Bad("offset twice", "GET", "/v1/batch/{open}/status?offset=1&offset=2", 400,
        content_type=None, field="offset"),
    Bad("misspelt parameter", "GET", "/v1/batch/{open}/status?limt=10", 400,
        content_type=None, field="limt"),
    Bad("POST the status", "POST", "/v1/batch/{open}/status", 405, body({})),
    # --- GET /v1/batch/{batch_id}/events ----------------------------------------------------
    Bad("events of an unknown batch", "GET", "/v1/batch/no-such-batch/events", 404,
        content_type=None),
    Bad("events of a bad id", "GET", "/v1/batch/a%20b/events", 400, content_type=None,
        field="batch_id"),
    Bad("last event id not a number", "GET", "/v1/batch/{open}/events", 400, content_type=None,
        headers=(("Last-Event-ID", "seven"),), field="Last-Event-ID"),
    Bad("empty last event id", "GET", "/v1/batch/{open}/events", 400, content_type=None,
        headers=(("Last-Event-ID", ""),), field="Last-Event-ID"),
    Bad("negative last event id", "GET", "/v1/batch/{open}/events", 400, content_type=None,
        headers=(("Last-Event-ID", "-1"),), field="Last-Event-ID"),
    Bad("a parameter to the events", "GET", "/v1/batch/{open}/events?limit=1", 400,
        content_type=None, field="limit"),
    Bad("POST the events", "POST", "/v1/batch/{open}/events", 405, body({})),
    # --- anywhere ----------------------------------------------------------------------------
    Bad("unknown path", "GET", "/v1/nothing-here", 404, content_type=None),
    Bad("path climbing out", "GET", "/v1/../../etc/passwd", 404, content_type=None),
    Bad("no static files", "GET", "/static/settings.py", 404, content_type=None),
    Bad("POST the document", "POST", "/openapi.json", 405, body({})),
    Bad("DELETE healthz", "DELETE", "/healthz", 405, content_type=None),
]
# fmt: on


@dataclass(frozen=True)
class Existing:
    essay: str
    open: str
    triggered: str
    cancelled: str

    def fill(self, text: str) -> str:
        return text.format(**self.__dict__)


@pytest.fixture(scope="module")
async def existing(stack: Stack) -> AsyncIterator[Existing]:
    """An essay and three batches (open, triggered, cancelled) the conflict cases aim at."""
    tag = uuid.uuid4().hex[:8]
    made = Existing(f"corpus-{tag}", f"open-{tag}", f"triggered-{tag}", f"cancelled-{tag}")
    essay = await stack.api.post(TRIGGER, json={"text": "original", "essay_id": made.essay})
    assert essay.status_code == 202, essay.text
    for batch_id in (made.open, made.triggered, made.cancelled):
        created = await stack.api.post(
            "/v1/batch",
            json={"batch_id": batch_id, "essays": [{"text": "first", "essay_id": "e1"}]},
        )
        assert created.status_code == 202, created.text
    assert (await stack.api.post(f"/v1/batch/{made.triggered}/spellcheck")).status_code == 202
    assert (await stack.api.post(f"/v1/batch/{made.cancelled}/cancel")).status_code == 202
    yield made


def operations_at(document: dict[str, Any], target: str) -> dict[str, Any] | None:
    """The documented operations of the path `target` reaches, None when it reaches none."""
    path = unquote(target.split("?", 1)[0])
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return operations
    return None


def assert_json_error(response: RawResponse, case: Bad) -> dict[str, Any]:
    assert response.content_type.startswith(JSON), (response.content_type, response.body[:200])
    error = response.json()
    ErrorBody.model_validate(error)  # exactly {error, details}; details a string or field list
    assert error["error"], error
    if case.field is not None:
        assert isinstance(error["details"], list), error
        assert case.field in {d["field"] for d in error["details"]}, error
    return error


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
async def test_a_bad_request_gets_the_right_json_error(
    stack: Stack, existing: Existing, case: Bad
) -> None:
    headers: list[tuple[str, bytes | str]] = list(case.headers)
    if case.content_type is not None:
        headers.append(("Content-Type", case.content_type))
    target = existing.fill(case.target)
    data = case.data.replace(b"{essay}", existing.essay.encode()).replace(
        b"{open}", existing.open.encode()
    )
    response = await send(
        stack.settings.host, stack.settings.port, case.method, target, headers=headers, body=data
    )
    assert response.status == case.status, (response.status, response.body[:300])
    assert_json_error(response, case)
    assert response.headers.get("x-correlation-id"), "every answer carries its correlation id"
    operations = operations_at(build_document(stack.settings), target)
    if response.status == 405:
        offered = {m.upper() for m in operations or {}}
        assert offered and case.method not in offered
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert offered <= allowed, (offered, allowed)
    elif operations is not None:
        documented = operations[case.method.lower()]["responses"]
        assert str(response.status) in documented, f"{response.status} is not in the document"


def test_the_corpus_reaches_every_operation_of_the_service() -> None:
    document = build_document(Settings())
    reached = set()
    for case in CORPUS:
        target = case.target.format(essay="e", open="b", triggered="b", cancelled="b")
        operations = operations_at(document, target) or {}
        if case.method.lower() in operations:
            reached.add(id(operations[case.method.lower()]))
    service = [
        operation
        for template, operations in document["paths"].items()
        if template.startswith("/v1/")
        for operation in operations.values()
    ]
    assert {id(operation) for operation in service} <= reached
    assert len(CORPUS) >= 50


async def test_an_oversized_body_gets_its_413_not_a_reset_connection(stack: Stack) -> None:
    """An ordinary client, still sending when the API has its answer, must hear the answer:
    without the API reading the rest first, httpx mostly reported a reset connection."""
    too_big = body({"text": "a" * (MIB + 100_000)})
    for _ in range(3):
        response = await stack.api.post(
            TRIGGER, content=too_big, headers={"Content-Type": JSON}, timeout=30
        )
        assert response.status_code == 413
        assert set(response.json()) == {"error", "details"}


@pytest.mark.parametrize(
    ("target", "headers", "data"),
    [
        (b"/v1/essays/\xff/status", [], b""),
        (TRIGGER.encode(), [("Content-Type", JSON), ("Content-Length", "abc")], b"{}"),
        (TRIGGER.encode(), [("Content Type", JSON)], b""),
    ],
    ids=["raw non-ascii byte in the path", "content-length not a number", "space in a name"],
)
async def test_what_is_not_http_gets_hypercorns_bare_400(
    stack: Stack, target: bytes, headers: list, data: bytes
) -> None:
    """Requests that break HTTP itself never reach the API: Hypercorn answers them with an empty
    400 (docs/api.md). This pins that they are refused, not served or dropped."""
    response = await send(
        stack.settings.host,
        stack.settings.port,
        "POST" if data else "GET",
        target,
        headers=headers,
        body=data,
    )
    assert response.status == 400
    assert response.body == b""
