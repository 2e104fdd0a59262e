"""The base of every JSON answer: one model per answer's shape, used by its handler to build it
and by the API document to describe it, so the two cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

# Times as Python writes them (`+00:00`), the form the API has always answered with.
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda t: t.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Answer(BaseModel):
    # A field set by a handler but missing here is an error, not an undocumented field; every
    # field is in every answer, so the document marks them all required.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    def body(self) -> dict[str, Any]:
        """The JSON object the handler returns."""
        return self.model_dump(mode="json")
