"""The correlation id: adopted from a valid `X-Correlation-ID`, else made; echoed back."""

from __future__ import annotations

import re
import uuid

from quart import Quart, Response, g, request

HEADER = "X-Correlation-ID"
# Generous enough for UUIDs and HuleEdu's `corr_123` style, strict enough to be safe in logs
# and Kafka headers.
VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_correlation_id() -> str:
    return g.correlation_id


def register_correlation(app: Quart) -> None:
    @app.before_request
    async def adopt_or_make() -> None:
        inbound = request.headers.get(HEADER, "")
        g.correlation_id = inbound if VALID.match(inbound) else str(uuid.uuid4())

    @app.after_request
    async def echo(response: Response) -> Response:
        correlation_id = g.get("correlation_id")
        if correlation_id:
            response.headers[HEADER] = correlation_id
        return response
