"""Reading request bodies: JSON only, within the size limit, validated into a model."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints
from quart import request

from api.errors import ApiError

ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
ID_RULE = "1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'"
ClientId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text must contain at least one non-whitespace character")
    return text


# An essay's text: a string with something in it besides white space.
NonBlankText = Annotated[str, AfterValidator(_not_blank)]
_ID = re.compile(ID_PATTERN)

Model = TypeVar("Model", bound=BaseModel)


def check_id(kind: str, value: str) -> str:
    """Ids in paths get the same rule as ids in bodies: 400, not a confusing 404."""
    if not _ID.match(value):
        raise ApiError(
            400,
            "Validation failed",
            [
                {
                    "field": kind,
                    "message": f"{kind} must be {ID_RULE}",
                    "type": "string_pattern_mismatch",
                }
            ],
        )
    return value


async def read_json(max_bytes: int) -> Any:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415,
            "Unsupported media type",
            f"send the body as application/json (got {mimetype or 'no Content-Type'})",
        )
    too_large = ApiError(413, "Request entity too large", f"the body exceeds {max_bytes} bytes")
    if (request.content_length or 0) > max_bytes:
        raise too_large
    raw = await request.get_data(cache=False)  # the app-wide MAX_CONTENT_LENGTH also applies
    if len(raw) > max_bytes:
        raise too_large
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Invalid JSON", f"the body is not valid UTF-8: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "Invalid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


async def read_model(model: type[Model], max_bytes: int) -> Model:
    data = await read_json(max_bytes)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "Validation failed",
            [{"field": "body", "message": "the body must be a JSON object", "type": "object_type"}],
        )
    return model.model_validate(data)  # ValidationError -> 400 with the field errors
