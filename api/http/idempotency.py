"""The `Idempotency-Key` header: read and checked the same way for essays and batches."""

from __future__ import annotations

import re

from quart import request

from api.http.errors import invalid_field

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
# Visible ASCII, spaces only inside: HTTP trims spaces at either end of a header value, and
# bytes beyond ASCII arrive decoded as Latin-1, which no client means, so a key the server
# would read differently from what was sent is refused rather than silently changed.
PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$"
_KEY = re.compile(PATTERN)


def idempotency_key() -> str | None:
    """The request's key, None without one; a key that breaks the rule is a 400."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if len(key) > MAX_LENGTH or not _KEY.fullmatch(key):
        raise invalid_field(
            HEADER,
            f"must be 1 to {MAX_LENGTH} visible ASCII characters (spaces only between them)",
            "header",
        )
    return key
