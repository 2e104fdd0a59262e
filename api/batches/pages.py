"""Turning a request's essays into a page: ids, a digest, and chunks of bounded size."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.http.bodies import ClientId, NonBlankText
from api.http.errors import ApiError
from contracts.batch import CHUNK_MAX_ESSAYS, CHUNK_MAX_TEXT_BYTES, EssayText

# Fixed forever: a retried page must get the same generated essay ids.
ESSAY_ID_NAMESPACE = uuid.UUID("3c9a4f8e-7b21-5d6c-9e0f-1a2b3c4d5e6f")
MAX_ESSAY_TEXT_BYTES = CHUNK_MAX_TEXT_BYTES
MAX_METADATA_BYTES = 8192
# Teachers' metadata is flat; deep nesting only costs (and past a few hundred levels the
# serialiser that hands the input to Temporal gives up).
MAX_METADATA_DEPTH = 16


class EssayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: NonBlankText
    essay_id: ClientId | None = None

    @field_validator("text")
    @classmethod
    def text_fits_a_chunk(cls, text: str) -> str:
        if len(text.encode()) > MAX_ESSAY_TEXT_BYTES:
            raise ValueError(f"text must be at most {MAX_ESSAY_TEXT_BYTES} bytes of UTF-8")
        return text


class PageIn(BaseModel):
    """`POST /v1/batch/{id}/essays`: more essays for a batch not yet triggered."""

    model_config = ConfigDict(extra="forbid", strict=True)

    essays: list[EssayIn] = Field(min_length=1)

    @model_validator(mode="after")
    def client_ids_unique(self) -> PageIn:
        ids = [e.essay_id for e in self.essays if e.essay_id]
        if len(ids) != len(set(ids)):
            raise ValueError("essay_id values must be unique within the batch")
        return self


class BatchIn(PageIn):
    """`POST /v1/batch`: a new batch and its first essays."""

    batch_id: ClientId | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def metadata_is_small(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        if _depth(metadata) > MAX_METADATA_DEPTH:
            raise ValueError(f"metadata may nest at most {MAX_METADATA_DEPTH} levels deep")
        if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
        return metadata


def _depth(value: Any) -> int:
    """How many objects and arrays deep `value` nests (a flat object is 1)."""
    depth, level = 0, [value]
    while level:
        containers = [v for v in level if isinstance(v, dict | list)]
        if not containers:
            break
        depth += 1
        level = [child for c in containers for child in (c.values() if isinstance(c, dict) else c)]
    return depth


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Page:
    digest: str
    essays: list[EssayText]
    chunks: list[list[EssayText]]
    client_essay_ids: list[str]

    @property
    def essay_ids(self) -> list[str]:
        return [e.essay_id for e in self.essays]


def plan_page(batch_id: str, essays: list[EssayIn]) -> Page:
    """Ids for every essay (a client's own, else derived from the page so a retry gets the same)
    and chunks of at most CHUNK_MAX_ESSAYS essays and CHUNK_MAX_TEXT_BYTES of text as sent;
    413 for an essay that fits no chunk, before anything is assigned or started."""
    page_digest = digest([[e.essay_id, e.text] for e in essays])
    new_id = _id_maker(f"{batch_id}/{page_digest}/")
    # Validated already (EssayIn): constructed without validating again.
    with_ids = [
        EssayText.model_construct(essay_id=e.essay_id or new_id(i), text=e.text)
        for i, e in enumerate(essays)
    ]
    chunks: list[list[EssayText]] = []
    size = 0
    for n, essay in enumerate(with_ids):
        essay_bytes = sent_bytes(essay.text)
        if essay_bytes > CHUNK_MAX_TEXT_BYTES:
            raise ApiError(
                413,
                "Request entity too large",
                f"essays[{n}]: its text takes {essay_bytes} bytes as sent to the workflow "
                f"(JSON, control characters escaped); at most {CHUNK_MAX_TEXT_BYTES} fit",
            )
        if (
            not chunks
            or len(chunks[-1]) >= CHUNK_MAX_ESSAYS
            or size + essay_bytes > CHUNK_MAX_TEXT_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(essay)
        size += essay_bytes
    return Page(
        digest=page_digest,
        essays=with_ids,
        chunks=chunks,
        client_essay_ids=[e.essay_id for e in essays if e.essay_id],
    )


def sent_bytes(text: str) -> int:
    """The text's size in the chunk's input as it goes to Temporal: JSON, where a control
    character takes six bytes, so the raw size alone can pass a page that the server refuses."""
    return len(pydantic_core.to_json(text))


def _id_maker(prefix: str) -> Callable[[int], str]:
    """`str(uuid.uuid5(ESSAY_ID_NAMESPACE, prefix + str(i)))`, the same string, at a third of
    the CPU: the page's hash state is shared and no UUID object is built (250 ids took 1.1 ms
    of the API's event loop per page; tests/unit/test_batch_pages.py holds it to uuid5)."""
    seed = hashlib.sha1(ESSAY_ID_NAMESPACE.bytes + prefix.encode(), usedforsecurity=False)

    def new_id(i: int) -> str:
        sha = seed.copy()
        sha.update(str(i).encode())
        raw = bytearray(sha.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    return new_id
