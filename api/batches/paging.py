"""The `offset` and `limit` query parameters of a batch's status page."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from api.http.errors import ApiError, invalid_field

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_OFFSET = 10**9
PARAMETERS = ("offset", "limit")
# ASCII digits only: str.isdigit() also accepts "²" (which int() refuses) and "٣" (which it
# reads as 3); ten digits bound the work int() does.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")


def _invalid(field: str, message: str) -> ApiError:
    return invalid_field(field, message, "query_parameter")


def page_params(args: MultiDict) -> tuple[int, int]:
    """(offset, limit); a misspelt or repeated parameter is refused, never silently ignored."""
    for name in args:
        if name not in PARAMETERS:
            raise _invalid(name, "unknown query parameter; this endpoint takes offset and limit")

    def number(name: str, default: int, low: int, high: int) -> int:
        values = args.getlist(name)
        if len(values) > 1:
            raise _invalid(name, f"{name} may be given once")
        raw = values[0] if values else str(default)
        if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
            raise _invalid(name, f"{name} must be a whole number from {low} to {high}")
        return int(raw)

    return number("offset", 0, 0, MAX_OFFSET), number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
