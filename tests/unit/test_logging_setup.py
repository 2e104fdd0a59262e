"""The log format: one JSON object per line, carrying the essay's and the batch's ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from contracts.ids import batch_workflow_id, chunk_workflow_id, essay_workflow_id
from logging_setup import (
    ContextFields,
    bind_log_context,
    build_formatter,
    ids_from_workflow,
)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the JSON formatter and the context filter into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(build_formatter("json"))
    handler.addFilter(ContextFields())
    logger = logging.getLogger("tests.logging_setup")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("workflow_type", "workflow_id", "expected"),
    [
        ("EssayWorkflow", essay_workflow_id("anna-1"), {"essay_id": "anna-1"}),
        ("BatchWorkflow", batch_workflow_id("class-9b"), {"batch_id": "class-9b"}),
        # A batch id may itself look like a chunk suffix: the type decides.
        ("BatchWorkflow", batch_workflow_id("class-c3"), {"batch_id": "class-c3"}),
        (
            "ChunkWorkflow",
            chunk_workflow_id("class-c3", "3f2a9c0d1e2b4a5c.12"),
            {"batch_id": "class-c3", "chunk": "3f2a9c0d1e2b4a5c.12"},
        ),
        ("SomeOtherWorkflow", "essay-x", {}),
        (None, None, {}),
    ],
)
def test_ids_are_read_back_from_our_workflow_ids(
    workflow_type: str | None, workflow_id: str | None, expected: dict[str, str]
) -> None:
    assert ids_from_workflow(workflow_type, workflow_id) == expected


def test_a_line_is_one_json_object_with_its_fields(captured) -> None:
    logger, out = captured
    logger.info("stored essay", extra={"essay_id": "e-1", "correlation_id": "c-1", "n": 3})
    [line] = lines(out)
    assert line["message"] == "stored essay"
    assert line["level"] == "INFO"
    assert line["logger"] == "tests.logging_setup"
    assert line["time"].endswith("+00:00")  # ISO 8601, UTC
    assert (line["essay_id"], line["correlation_id"], line["n"]) == ("e-1", "c-1", 3)


async def test_bound_fields_reach_later_lines_of_the_same_task_only(captured) -> None:
    logger, out = captured

    async def request(correlation_id: str, essay_id: str) -> None:
        bind_log_context(correlation_id=correlation_id)
        bind_log_context(essay_id=essay_id, batch_id=None)  # None binds nothing
        logger.info("essay accepted")
        logger.info("explicit wins", extra={"essay_id": "other"})

    # Two requests at once, each in its own task, as Hypercorn runs them.
    await asyncio.gather(
        asyncio.create_task(request("c-1", "e-1")), asyncio.create_task(request("c-2", "e-2"))
    )
    logger.info("after the requests")
    accepted = [line for line in lines(out) if line["message"] == "essay accepted"]
    assert sorted((x["correlation_id"], x["essay_id"]) for x in accepted) == [
        ("c-1", "e-1"),
        ("c-2", "e-2"),
    ]
    assert all("batch_id" not in x for x in accepted)
    assert {x["essay_id"] for x in lines(out) if x["message"] == "explicit wins"} == {"other"}
    [after] = [x for x in lines(out) if x["message"] == "after the requests"]
    assert "correlation_id" not in after and "essay_id" not in after


def test_sdk_lines_get_the_ids_their_workflow_id_names(captured) -> None:
    logger, out = captured
    activity_info = {
        "activity_type": "store_chunk",
        "workflow_id": chunk_workflow_id("class-9b", "3f2a9c0d1e2b4a5c.2"),
        "workflow_type": "ChunkWorkflow",
        "attempt": 3,
    }
    logger.warning("Completing activity as failed", extra={"temporal_activity": activity_info})
    [line] = lines(out)
    assert (line["batch_id"], line["chunk"]) == ("class-9b", "3f2a9c0d1e2b4a5c.2")
    assert line["temporal_activity"]["attempt"] == 3  # the SDK's own info stays a field


def test_text_format_shows_the_ids_to_people() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "essay accepted", (), None)
    record.essay_id = "e-1"
    record.correlation_id = "c-1"
    text = build_formatter("text").format(record)
    assert text.endswith("INFO x: essay accepted [correlation_id=c-1 essay_id=e-1]")
