"""Reading request bodies: JSON only, within the size limit, validated into a model."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints, WithJsonSchema
from quart import request

from api.http import strict_json
from api.http.draining import read_body
from api.http.errors import ApiError, invalid_field

# Not only dots: "." and ".." are dot-segments, which clients remove from a URL path (RFC 3986,
# 5.2.4), so an essay called ".." would have a status URL no client can reach.
ID_PATTERN = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
ID_MAX_LENGTH = 64
ID_RULE = "1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-', not only dots"
ClientId = Annotated[
    str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LENGTH)
]


# White space as Unicode defines it (the White_Space property), spelled out: `\s` means a
# different set in Python, in JSON Schema's ECMA regexes and in Rust's (Python alone counts
# U+001C..U+001F), and the document must mean exactly what the API checks.
BLANK_PATTERN = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
_BLANK = re.compile(BLANK_PATTERN)


def _not_blank(text: str) -> str:
    if _BLANK.fullmatch(text):
        raise ValueError("text must contain at least one character that is not white space")
    return text


# An essay's text: a string with something in it besides white space. The document says so
# as "not only white space" rather than as a pattern for "one character that is not": such a
# pattern beside a maxLength of 384 KiB makes Schemathesis's boundary generation slow, and it
# then sends a body that is not an object as if it were valid.
NonBlankText = Annotated[
    str,
    AfterValidator(_not_blank),
    WithJsonSchema({"type": "string", "minLength": 1, "not": {"pattern": BLANK_PATTERN}}),
]
_ID = re.compile(ID_PATTERN)

Model = TypeVar("Model", bound=BaseModel)


def check_id(kind: str, value: str) -> str:
    """Ids in paths get the same rule as ids in bodies: 400, not a confusing 404."""
    if len(value) > ID_MAX_LENGTH or not _ID.fullmatch(value):
        raise invalid_field(kind, f"{kind} must be {ID_RULE}", "string_pattern_mismatch")
    return value


async def read_json(max_bytes: int) -> Any:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415,
            "Unsupported media type",
            f"send the body as application/json (got {mimetype or 'no Content-Type'})",
        )
    raw = await read_body(max_bytes)
    if raw is None:
        raise ApiError(413, "Request entity too large", f"the body exceeds {max_bytes} bytes")
    try:
        return strict_json.loads(raw)
    except strict_json.InvalidJson as exc:
        raise ApiError(400, "Invalid JSON", str(exc)) from None


async def read_model(model: type[Model], max_bytes: int) -> Model:
    data = await read_json(max_bytes)
    if not isinstance(data, dict):
        raise invalid_field("body", "the body must be a JSON object", "object_type")
    return model.model_validate(data)  # ValidationError -> 400 with the field errors
