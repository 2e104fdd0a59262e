"""Every error leaves the API as JSON `{"error", "details"}`: never HTML, never a trace."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field, ValidationError
from quart import Quart
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from werkzeug.exceptions import HTTPException

from api.http.answers import Answer
from codec.keys import PayloadKeyError

log = logging.getLogger(__name__)

# A call that outlived its rpc_timeout: the server reports DEADLINE_EXCEEDED, but the SDK's own
# timer (the usual case, e.g. a status query that no busy worker answers in time) reports
# CANCELLED ("Timeout expired"). The API cancels no call otherwise, so both mean "too slow".
TIMEOUT_CODES = frozenset({RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED})
# Temporal answers these while it is down, overloaded or too slow: the client may retry later.
UNAVAILABLE_CODES = TIMEOUT_CODES | {RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED}


class ApiError(Exception):
    """An error the handlers raise on purpose, with its status, title, details and headers
    (e.g. `WWW-Authenticate` on a 401, `Retry-After` on a 429)."""

    def __init__(
        self, status: int, error: str, details: Any, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {error}: {details}")
        self.status = status
        self.error = error
        self.details = details
        self.headers = headers or {}


class FieldError(Answer):
    field: str = Field(description="where: a body field (dotted path), a header or a parameter")
    message: str
    type: str = Field(description="a machine-readable kind, e.g. `missing`, `string_type`")


class ErrorBody(Answer):
    """Every error: a short title and the details (a sentence, or one entry per bad field)."""

    error: str = Field(description="a short title, e.g. `Validation failed`, `Not Found`")
    details: str | list[FieldError]


def error_body(error: str, details: str | list[FieldError]) -> dict[str, Any]:
    return ErrorBody(error=error, details=details).body()


def invalid_field(field: str, message: str, kind: str) -> ApiError:
    """A 400 for one bad field, header or parameter, in the shape of a body's field errors."""
    return ApiError(400, "Validation failed", [FieldError(field=field, message=message, type=kind)])


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors without the input (it may be a megabyte of essay) or internals."""
    return [
        FieldError(
            field=".".join(str(part) for part in err["loc"]) or "body",
            message=err["msg"],
            type=err["type"],
        )
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


# Every 503 says when to ask again: what it reports (Temporal or a worker busy or restarting)
# passes in seconds, and a client that waits as told does not add to the load.
RETRY_AFTER = {"Retry-After": "2"}


def service_unavailable(details: str) -> ApiError:
    return ApiError(503, "Service unavailable", details, dict(RETRY_AFTER))


def _unreadable_payload(exc: Exception) -> bool:
    """An encrypted payload, and this process lacks its key (or all keys)."""
    if isinstance(exc, PayloadKeyError):
        return True
    return isinstance(exc, KeyError) and "Unknown payload encoding" in str(exc)


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def api_error(exc: ApiError):
        return error_body(exc.error, exc.details), exc.status, exc.headers

    @app.errorhandler(ValidationError)
    async def validation_error(exc: ValidationError):
        return error_body("Validation failed", field_errors(exc)), 400

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException):
        headers = {}
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return error_body(exc.name, exc.description), exc.code or 500, headers

    @app.errorhandler(RPCError)
    async def temporal_error(exc: RPCError):
        if exc.status in UNAVAILABLE_CODES:
            log.warning("Temporal unavailable: %s", exc.message)
            return error_body("Service unavailable", f"Temporal: {exc.message}"), 503, RETRY_AFTER
        log.error("Temporal call failed: %s %s", exc.status, exc.message)
        return error_body("Internal server error", "the workflow service failed"), 500

    @app.errorhandler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def update_timed_out(exc: WorkflowUpdateRPCTimeoutOrCancelledError):
        # No worker took the update in time (all busy, or none running): worth a retry.
        log.warning("update not answered in time: %s", exc)
        details = "the batch did not answer in time; retry"
        return error_body("Service unavailable", details), 503, RETRY_AFTER

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception):
        # The lazy Temporal client raises a plain RuntimeError when it cannot connect.
        if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
            log.warning("Temporal unreachable: %s", exc)
            return error_body("Service unavailable", "Temporal is unreachable"), 503, RETRY_AFTER
        if _unreadable_payload(exc):
            # Written under a key this API does not hold: an operator's fix, not the client's.
            log.error("a payload cannot be decoded; give the API every PAYLOAD_KEYS key: %s", exc)
            details = "the service cannot read its records at the moment; retry later"
            return error_body("Service unavailable", details), 503, RETRY_AFTER
        log.exception("unhandled error")
        return error_body("Internal server error", "an unexpected error occurred"), 500
