"""Hypercorn's access log as fields: one line per request, through the app's logging setup.

Hypercorn's own access line is a formatted string; here each part is a field of its own
(`method`, `path`, `status`, `duration_ms`, `client`) and the line carries the request's
`correlation_id`, read from the response's X-Correlation-ID header, so a request's access line
is found with the rest of its lines. It also skips Hypercorn's per-request copy of the whole
environment, which its default access log builds and this one does not need.
"""

from __future__ import annotations

import logging

from hypercorn.logging import Logger
from hypercorn.typing import ResponseSummary, WWWScope

from api.http.correlation import HEADER

_CORRELATION_HEADER = HEADER.lower().encode()


class AccessLog(Logger):
    async def access(
        self, request: WWWScope, response: ResponseSummary | None, request_time: float
    ) -> None:
        if self.access_logger is None or not self.access_logger.isEnabledFor(logging.INFO):
            return
        status = response["status"] if response is not None else None
        fields = {
            "method": request.get("method", "GET"),  # a websocket has none
            "path": request["path"],
            "status": status,
            "duration_ms": round(request_time * 1000, 3),
            "client": _client(request),
        }
        for name, value in (response or {}).get("headers", ()):
            if name.lower() == _CORRELATION_HEADER:
                fields["correlation_id"] = value.decode("latin1")
        self.access_logger.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)


def _client(request: WWWScope) -> str | None:
    client = request.get("client")
    return f"{client[0]}:{client[1]}" if client else None
