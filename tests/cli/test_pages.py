"""Pages within the API's limits on essays and bytes per request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_cli.errors import CliError
from batch_cli.essay_files import Essay
from batch_cli.pages import page_body, plan_pages


def essays(count: int, size: int) -> list[Essay]:
    return [Essay(Path(f"{n}.txt"), f"e{n}", "é" * size) for n in range(count)]


def test_pages_hold_at_most_the_essay_limit() -> None:
    pages = plan_pages(essays(11, 10), max_essays=5, max_bytes=1_000_000)
    assert [len(p) for p in pages] == [5, 5, 1]
    assert [e.essay_id for p in pages for e in p] == [f"e{n}" for n in range(11)]


def test_every_page_body_fits_the_byte_limit() -> None:
    limit = 10_000
    pages = plan_pages(essays(40, 1000), max_essays=500, max_bytes=limit)  # 2,000 bytes each
    assert len(pages) > 1
    for page in pages:
        body = page_body(page, batch_id="b" * 64)
        assert len(body) <= limit
        assert len(json.loads(body)["essays"]) == len(page)
    assert sum(len(p) for p in pages) == 40


def test_an_essay_larger_than_a_request_is_bad_input() -> None:
    with pytest.raises(CliError, match="more than one request may carry"):
        plan_pages(essays(1, 5000), max_essays=500, max_bytes=4096)
