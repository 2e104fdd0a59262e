"""The correlation id: adopted from a valid `X-Correlation-ID`, else made; echoed back.

It is also bound to the request's log lines, with the essay or batch id its path names.
"""

from __future__ import annotations

import re
import uuid

from quart import Quart, Response, g, request

from api.http.bodies import ID_PATTERN
from logging_setup import bind_log_context

HEADER = "X-Correlation-ID"
# Generous enough for UUIDs and HuleEdu's `corr_123` style, strict enough to be safe in logs
# and Kafka headers.
VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ID = re.compile(ID_PATTERN)
# Path parameters that name an essay or a batch: bound to the request's log lines when valid.
ID_PARAMS = ("essay_id", "batch_id")


def current_correlation_id() -> str:
    return g.correlation_id


def register_correlation(app: Quart) -> None:
    @app.before_request
    async def adopt_or_make() -> None:
        inbound = request.headers.get(HEADER, "")
        g.correlation_id = inbound if VALID.match(inbound) else str(uuid.uuid4())
        path_ids = {
            name: value
            for name, value in (request.view_args or {}).items()
            if name in ID_PARAMS and _ID.match(value)  # never log a garbage path segment
        }
        bind_log_context(correlation_id=g.correlation_id, **path_ids)

    @app.after_request
    async def echo(response: Response) -> Response:
        correlation_id = g.get("correlation_id")
        if correlation_id:
            response.headers[HEADER] = correlation_id
        return response
