"""Reading the rest of a body the API answered without needing, so the client hears the answer.

A server that answers (a 413, a 415, a 405) and closes while the client is still sending makes
the client's kernel reset the connection, and most clients then report the reset, not the
answer: measured with httpx, nine in ten 1.1 MB bodies over the 1 MiB limit got a connection
error instead of the 413. So every body, up to Quart's hard cap `MAX_CONTENT_LENGTH`, is read
to its end (and dropped) before the answer goes out; only a body beyond the cap is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib

from quart import Quart, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

# The hard cap is this many times the largest body any route accepts.
DRAIN_FACTOR = 4


def hard_cap(largest_accepted: int) -> int:
    return DRAIN_FACTOR * largest_accepted


async def read_body(max_bytes: int) -> bytes | None:
    """The whole body, or None when it is longer than `max_bytes` (then read to its end and
    dropped, unless it is past the hard cap: then RequestEntityTooLarge, a 413 at once)."""
    cap = current_app.config["MAX_CONTENT_LENGTH"]
    if (request.content_length or 0) > cap:
        raise RequestEntityTooLarge()
    g.body_read = True
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.body:
        size += len(chunk)
        if size > cap:  # a chunked body has no Content-Length to refuse it by beforehand
            raise RequestEntityTooLarge()
        if size <= max_bytes:
            chunks.append(chunk)
    return b"".join(chunks) if size <= max_bytes else None


def _unread_body() -> bool:
    """Whether the request came with a body that nothing has read (the usual case: no)."""
    if g.get("body_read"):
        return False
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return bool(request.content_length) or chunked


def register_draining(app: Quart) -> None:
    """Read (and drop) whatever body a request's handler left unread, up to the hard cap."""

    @app.after_request
    async def drain_unread_body(response: Response) -> Response:
        if not _unread_body():
            return response
        if (request.content_length or 0) > current_app.config["MAX_CONTENT_LENGTH"]:
            return response  # Quart refuses to read it: the connection will be cut
        # A client that stops sending must not hold the request forever.
        with contextlib.suppress(TimeoutError, RequestEntityTooLarge):
            async with asyncio.timeout(current_app.config["BODY_TIMEOUT"]):
                await _drain(current_app.config["MAX_CONTENT_LENGTH"])
        return response


async def _drain(cap: int) -> None:
    size = 0
    async for chunk in request.body:
        size += len(chunk)
        if size > cap:
            return
