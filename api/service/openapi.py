"""The API's OpenAPI 3.1 document, served at `GET /openapi.json` and rendered at `GET /docs`.

Request bodies come from the models the handlers validate with, answers from the models the
handlers build them with, and the limits that are settings (body sizes, essays per request)
from the app's settings, so the document says what this running API enforces. A test fails
when a route exists in the app but not here, and the fuzz test checks every answer against it.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.batches.answers import (
    BatchAccepted,
    BatchCancelled,
    BatchRetried,
    BatchStatusAnswer,
    BatchTriggered,
)
from api.batches.events import KEEP_ALIVE_S, LAST_EVENT_ID, MEDIA_TYPE, BatchEvent
from api.batches.pages import (
    MAX_ESSAY_TEXT_BYTES,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    BatchIn,
    PageIn,
)
from api.batches.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from api.essays.routes import EssayAccepted, EssayRetried, TriggerSpellcheckRequest
from api.http.bodies import ID_MAX_LENGTH, ID_PATTERN, ID_RULE
from api.http.correlation import HEADER as CORRELATION_HEADER
from api.http.errors import ErrorBody
from api.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.http.idempotency import MAX_LENGTH as IDEMPOTENCY_MAX_LENGTH
from api.http.idempotency import PATTERN as IDEMPOTENCY_PATTERN
from api.service.health import Health, NotReady, Ready
from contracts.essay import EssayStatus
from settings import Settings

DISTRIBUTION = "huleedu-essay-orchestrator"
REQUEST_MODELS: list[type[BaseModel]] = [TriggerSpellcheckRequest, BatchIn, PageIn]
ANSWER_MODELS: list[type[BaseModel]] = [
    Health,
    Ready,
    NotReady,
    ErrorBody,
    EssayAccepted,
    EssayStatus,
    BatchAccepted,
    BatchTriggered,
    BatchCancelled,
    BatchRetried,
    EssayRetried,
    BatchStatusAnswer,
    BatchEvent,
]

# Every error the API gives, by status: the name of its reusable response and when it happens.
ERRORS = {
    400: (
        "BadRequest",
        "Malformed JSON, a body that is not a JSON object, or a validation "
        "failure; `details` lists `{field, message, type}` for each bad field.",
    ),
    401: (
        "Unauthorized",
        "`API_KEYS` is set and the request carries no key, or an unknown one "
        "(`Authorization: Bearer <key>` or `X-API-Key`); with `WWW-Authenticate`.",
    ),
    404: ("NotFound", "No such essay or batch (or no such route), or another client's."),
    405: ("MethodNotAllowed", "A method the path does not offer; `Allow` lists those it does."),
    409: (
        "Conflict",
        "The id is taken by different content, or the batch is in a state that "
        "refuses this (triggered, cancelled, closed).",
    ),
    413: (
        "ContentTooLarge",
        "The body is larger than the endpoint accepts, or a batch request carries too many essays.",
    ),
    415: ("UnsupportedMediaType", "The body is not sent as `application/json`."),
    429: (
        "TooManyRequests",
        "Over this client's rate limit (`RATE_LIMIT_PER_S`), or, for an event stream, as many "
        "streams open as `MAX_STREAMS_PER_CLIENT`; `Retry-After` says when to retry.",
    ),
    500: ("InternalServerError", "A bug in the API: the body never carries a stack trace."),
    503: (
        "ServiceUnavailable",
        "Temporal is unreachable or did not answer in time: nothing was accepted; retry later.",
    ),
}
ID_PARAMETERS = {"essay_id": "EssayId", "batch_id": "BatchId"}


def service_version() -> str:
    """The project's version: from its installed metadata, else (the image runs the code
    uninstalled) from the pyproject.toml beside it."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def build_document(settings: Settings) -> dict[str, Any]:
    paths = _paths(settings)
    for path, item in paths.items():
        if path.startswith("/v1/"):
            for operation in item.values():
                operation.update(_security(settings))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "HuleEdu essay orchestrator",
            "version": service_version(),
            "description": (
                "Accepts essays for spell checking and answers at once; a Temporal workflow "
                "stores each text and publishes one `essay.spellcheck.requested.v1` event, "
                "retrying while a dependency is down. Every error is JSON "
                '`{"error", "details"}`. On every path, a method it does not offer is '
                "answered 405 with an `Allow` header; an unknown path is 404."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API key"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": _schemas(settings),
            "parameters": _parameters(),
            "headers": {
                "CorrelationId": {
                    "description": "The request's correlation id (adopted or made).",
                    "schema": {"type": "string"},
                },
                "Location": {
                    "description": "Where to follow what was accepted.",
                    "schema": {"type": "string"},
                },
                "Age": {
                    "description": (
                        "Whole seconds since the answer was read from the workflows: status "
                        "answers are kept up to `STATUS_MAX_AGE_S` (2 s) and refreshed in the "
                        "background. This client's trigger or cancel drops them; added essays "
                        "start a refresh."
                    ),
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
            "responses": {
                name: {
                    "description": when,
                    "headers": {"X-Correlation-ID": {"$ref": "#/components/headers/CorrelationId"}},
                    "content": _json("ErrorBody"),
                }
                for name, when in ERRORS.values()
            },
        },
    }


def _schemas(settings: Settings) -> dict[str, Any]:
    _, top = models_json_schema(
        [(m, "validation") for m in REQUEST_MODELS] + [(m, "serialization") for m in ANSWER_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    schemas = top["$defs"]
    # Limits that are settings, or checks a JSON Schema keyword cannot say exactly.
    for page in ("PageIn", "BatchIn"):
        essays = schemas[page]["properties"]["essays"]
        essays["maxItems"] = settings.max_batch_essays
        essays["description"] = (
            f"1 to {settings.max_batch_essays} essays (more is a 413: send them in pages); "
            "each client `essay_id` unique within the batch."
        )
    text = schemas["EssayIn"]["properties"]["text"]
    text["maxLength"] = MAX_ESSAY_TEXT_BYTES
    text["description"] = f"At most {MAX_ESSAY_TEXT_BYTES} bytes of UTF-8; not only white space."
    schemas["BatchIn"]["properties"]["metadata"]["description"] = (
        f"Free-form, kept with the batch: at most {MAX_METADATA_BYTES} bytes as JSON, "
        f"nested at most {MAX_METADATA_DEPTH} levels."
    )
    schemas["TriggerSpellcheckRequest"]["properties"]["text"]["description"] = (
        f"The essay; not only white space. The whole body is at most "
        f"{settings.max_request_bytes} bytes."
    )
    return schemas


def _parameters() -> dict[str, Any]:
    parameters: dict[str, Any] = {
        name: {
            "name": field,
            "in": "path",
            "required": True,
            "description": f"The client's or a generated id: {ID_RULE}.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": ID_MAX_LENGTH,
                "pattern": ID_PATTERN,
            },
        }
        for field, name in ID_PARAMETERS.items()
    }
    parameters["CorrelationId"] = {
        "name": CORRELATION_HEADER,
        "in": "header",
        "required": False,
        "description": "Adopted when it is 1 to 128 characters from A-Z, a-z, 0-9 and "
        "`._:-`; otherwise a new one is made. Returned in the answer.",
        "schema": {"type": "string"},
    }
    parameters["IdempotencyKey"] = {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": False,
        "description": "Makes a retried request return the same essay or batch and start "
        "nothing new (used when the body names no id).",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": IDEMPOTENCY_MAX_LENGTH,
            "pattern": IDEMPOTENCY_PATTERN,
        },
    }
    parameters["LastEventId"] = {
        "name": LAST_EVENT_ID,
        "in": "header",
        "required": False,
        "description": "The id of the last event the client has (a reconnecting client's): "
        "only later changes are sent, but a final batch always sends its final event.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
    }
    parameters["Offset"] = _page_parameter("offset", 0, MAX_OFFSET, 0, "First essay of the page.")
    parameters["Limit"] = _page_parameter(
        "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, "Essays on the page."
    )
    return parameters


def _page_parameter(name: str, low: int, high: int, default: int, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{what} Given at most once; other query parameters are refused.",
        "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default},
    }


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _operation(
    operation_id: str,
    summary: str,
    ok: tuple[int, str, str],
    errors: list[int],
    *,
    tag: str,
    parameters: tuple[str, ...] = (),
    body: tuple[str, str] | None = None,
    location: bool = False,
    age: bool = False,
) -> dict[str, Any]:
    """One operation: `ok` is (status, description, answer schema); `body` (schema, text)."""
    status, description, answer = ok
    headers: dict[str, Any] = {"X-Correlation-ID": _ref("headers", "CorrelationId")}
    if location:
        headers["Location"] = {**_ref("headers", "Location"), "required": True}
    if age:
        headers["Age"] = {**_ref("headers", "Age"), "required": True}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [_ref("parameters", p) for p in (*parameters, "CorrelationId")],
        "responses": {
            str(status): {"description": description, "headers": headers, "content": _json(answer)},
            **{str(code): _ref("responses", ERRORS[code][0]) for code in errors},
        },
    }
    if body is not None:
        schema, text = body
        operation["requestBody"] = {"required": True, "description": text, "content": _json(schema)}
    return operation


def _paths(settings: Settings) -> dict[str, Any]:
    # Every /v1 operation: refused keys and rate limits (when configured), and Temporal down.
    unavailable = [401, 429, 500, 503]
    essay_body = f"At most {settings.max_request_bytes} bytes of JSON (413 above)."
    batch_body = (
        f"At most {settings.max_batch_request_bytes} bytes of JSON and "
        f"{settings.max_batch_essays} essays (413 above)."
    )
    return {
        "/healthz": {
            "get": _operation(
                "healthz",
                "Liveness: answers while the process serves, even with Temporal down.",
                (200, "Alive.", "Health"),
                [500],
                tag="service",
            )
        },
        "/readyz": {"get": _readiness_operation()},
        "/openapi.json": {"get": _document_operation()},
        "/docs": {"get": _docs_page_operation()},
        "/v1/trigger-spellcheck": {
            "post": _operation(
                "triggerSpellcheck",
                "Accept one essay: its text is stored and its event published, with retries.",
                (202, "Accepted; follow the essay at `Location`.", "EssayAccepted"),
                [400, 409, 413, 415, *unavailable],
                tag="essays",
                parameters=("IdempotencyKey",),
                body=("TriggerSpellcheckRequest", essay_body),
                location=True,
            )
        },
        "/v1/essays/{essay_id}/status": {
            "get": _operation(
                "essayStatus",
                "An essay's state, and the step being retried while a dependency is down.",
                (200, "The essay's status.", "EssayStatus"),
                [400, 404, *unavailable],
                tag="essays",
                parameters=("EssayId",),
            )
        },
        "/v1/essays/{essay_id}/retry": {
            "post": _operation(
                "retryEssay",
                "A new request for an essay whose spellcheck failed or timed out (no body); "
                "409 for any other state, or after its retry window.",
                (202, "Requested again.", "EssayRetried"),
                [400, 404, 409, *unavailable],
                tag="essays",
                parameters=("EssayId", "IdempotencyKey"),
            )
        },
        "/v1/batch": {
            "post": _operation(
                "createBatch",
                "Create a batch with its first page of essays (a repeat returns the same).",
                (202, "Accepted; follow the batch at `Location`.", "BatchAccepted"),
                [400, 409, 413, 415, *unavailable],
                tag="batches",
                parameters=("IdempotencyKey",),
                body=("BatchIn", batch_body),
                location=True,
            )
        },
        "/v1/batch/{batch_id}/essays": {
            "post": _operation(
                "addEssays",
                "Add a page of essays to a batch not yet triggered or cancelled.",
                (202, "Accepted; the page's essay ids.", "BatchAccepted"),
                [400, 404, 409, 413, 415, *unavailable],
                tag="batches",
                parameters=("BatchId",),
                body=("PageIn", batch_body),
                location=True,
            )
        },
        "/v1/batch/{batch_id}/spellcheck": {
            "post": _operation(
                "triggerBatch",
                "Request the spell check of every essay of the batch (no body).",
                (202, "Triggered.", "BatchTriggered"),
                [400, 404, 409, *unavailable],
                tag="batches",
                parameters=("BatchId",),
            )
        },
        "/v1/batch/{batch_id}/cancel": {
            "post": _operation(
                "cancelBatch",
                "Stop a batch: essays not yet published become `cancelled` (no body).",
                (202, "Cancelling.", "BatchCancelled"),
                [400, 404, 409, *unavailable],
                tag="batches",
                parameters=("BatchId",),
            )
        },
        "/v1/batch/{batch_id}/retry": {
            "post": _operation(
                "retryBatch",
                "A new round for a spellchecked batch: a new request for each essay whose "
                "spellcheck failed or timed out (no body). 409 before the batch is "
                "`spellchecked`, with nothing to retry, or after its retry window.",
                (202, "Requested again.", "BatchRetried"),
                [400, 404, 409, *unavailable],
                tag="batches",
                parameters=("BatchId", "IdempotencyKey"),
            )
        },
        "/v1/batch/{batch_id}/status": {
            "get": _operation(
                "batchStatus",
                "A batch's state, counts, backlog and one page of its essays.",
                (200, "The batch's status.", "BatchStatusAnswer"),
                [400, 404, *unavailable],
                tag="batches",
                parameters=("BatchId", "Offset", "Limit"),
                age=True,
            )
        },
        "/v1/batch/{batch_id}/events": {"get": _events_operation(unavailable)},
    }


def _events_operation(unavailable: list[int]) -> dict[str, Any]:
    operation = _operation(
        "batchEvents",
        "A batch's progress as server-sent events, until it is final.",
        (200, "", "BatchEvent"),
        [400, 404, *unavailable],
        tag="batches",
        parameters=("BatchId", "LastEventId"),
    )
    operation["responses"]["200"].update(
        description=(
            "A `text/event-stream`: one `status` event per change of the batch, its `id` the "
            "batch's `version` and its `data` a `BatchEvent` (JSON). The last event has "
            '`"final": true` (`spellchecked` or `failed`; `completed` or `cancelled` once the '
            "batch's workflow has closed), then the stream ends; it also ends, without an "
            "event, when the API stops: reconnect with `Last-Event-ID`. A `: keep-alive` "
            f"comment comes after {KEEP_ALIVE_S:g} s without a change."
        ),
        # Before OpenAPI 3.2 (and its `itemSchema`) an event stream's schema is one event's.
        content={
            MEDIA_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "event": {"const": "status"},
                        "id": {"type": "string", "pattern": "^[0-9]+$"},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": _ref("schemas", "BatchEvent"),
                        },
                    },
                    "required": ["event", "id", "data"],
                }
            }
        },
    )
    return operation


def _readiness_operation() -> dict[str, Any]:
    return {
        "operationId": "readyz",
        "summary": "Readiness: 200 while Temporal answers for the namespace, else 503.",
        "tags": ["service"],
        "parameters": [_ref("parameters", "CorrelationId")],
        "responses": {
            "200": {"description": "Ready.", "content": _json("Ready")},
            "503": {"description": "Not ready: what failed.", "content": _json("NotReady")},
            "500": _ref("responses", "InternalServerError"),
        },
    }


def _security(settings: Settings) -> dict[str, Any]:
    """With API_KEYS set, every /v1 operation needs a key; while open, none is declared."""
    if settings.key_ring() is None:
        return {}
    return {
        "security": [{"bearer": []}, {"apiKeyHeader": []}],
    }


def _document_operation() -> dict[str, Any]:
    return {
        "operationId": "openapiDocument",
        "summary": "This document.",
        "tags": ["service"],
        "parameters": [_ref("parameters", "CorrelationId")],
        "responses": {
            "200": {
                "description": "The OpenAPI 3.1 document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "500": _ref("responses", "InternalServerError"),
        },
    }


def _docs_page_operation() -> dict[str, Any]:
    return {
        "operationId": "docsPage",
        "summary": "This document as a web page (nothing loaded from elsewhere).",
        "tags": ["service"],
        "parameters": [_ref("parameters", "CorrelationId")],
        "responses": {
            "200": {
                "description": "An HTML page.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "500": _ref("responses", "InternalServerError"),
        },
    }
