"""A batch's essays as requests the API accepts: at most so many essays and so many bytes each.

The defaults are the API's (`MAX_BATCH_ESSAYS`, `MAX_BATCH_REQUEST_BYTES`); a deployment with
smaller limits answers 413, and `submit` then halves the page. Pages are planned the same way
every time, so a re-run of the same command sends the same pages and the API recognises the
ones it already has.
"""

from __future__ import annotations

import json
from typing import Any

from batch_cli.errors import BAD_INPUT, CliError
from batch_cli.essay_files import Essay

MAX_ESSAYS_PER_REQUEST = 500
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Room for the rest of a body: {"batch_id": "<64 chars>", "essays": [...]} and separators.
ENVELOPE_BYTES = 256


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes sent, so the sizes planned are the sizes sent."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def essay_body(essay: Essay) -> dict[str, str]:
    return {"essay_id": essay.essay_id, "text": essay.text}


def page_body(essays: list[Essay], batch_id: str | None = None) -> bytes:
    body: dict[str, Any] = {"essays": [essay_body(e) for e in essays]}
    if batch_id is not None:
        body["batch_id"] = batch_id
    return to_json(body)


def plan_pages(essays: list[Essay], max_essays: int, max_bytes: int) -> list[list[Essay]]:
    """Consecutive pages, each as full as both limits allow."""
    room = max_bytes - ENVELOPE_BYTES
    pages: list[list[Essay]] = []
    size = 0
    for essay in essays:
        essay_bytes = len(to_json(essay_body(essay))) + 1  # the comma between essays
        if essay_bytes > room:
            raise CliError(
                f"{essay.path} needs {essay_bytes:,} bytes of JSON, more than one request may"
                f" carry ({max_bytes:,})",
                BAD_INPUT,
                ["raise --page-bytes, up to the API's MAX_BATCH_REQUEST_BYTES"],
            )
        if not pages or len(pages[-1]) >= max_essays or size + essay_bytes > room:
            pages.append([])
            size = 0
        pages[-1].append(essay)
        size += essay_bytes
    return pages
