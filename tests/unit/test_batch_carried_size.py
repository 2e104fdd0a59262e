"""What a batch's parent carries across continue-as-new and writes to its memo stays under the
server's 512 KiB payload warning at the batch caps: 100,000 essays, 1,000 pages, whatever
their ids and however the pages are cut (one essay each, or as many chunks as pages allow)."""

from datetime import UTC, datetime

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from contracts.batch import (
    CHUNK_MAX_ESSAYS,
    BatchInput,
    BatchRecord,
    BatchState,
    BatchStatus,
    ChunkRef,
    ChunkSummary,
    EssayCounts,
)
from contracts.ids import chunk_key
from settings import Settings

PAYLOAD_WARNING = 512 * 1024
SETTINGS = Settings()
ESSAYS, PAGES = SETTINGS.max_batch_total_essays, SETTINGS.max_batch_pages


def chunks_for(page_sizes: list[int]) -> list[ChunkSummary]:
    now = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
    chunks = []
    for page, size in enumerate(page_sizes):
        for i in range(0, size, CHUNK_MAX_ESSAYS):
            count = min(CHUNK_MAX_ESSAYS, size - i)
            chunks.append(
                ChunkSummary(
                    number=len(chunks) + 1,
                    essay_count=count,
                    accepted_at=now,
                    key=chunk_key(f"{page:016x}", i // CHUNK_MAX_ESSAYS),
                    command_sent="publish",
                    counts=EssayCounts(published=count - 1, failed=1),
                    report_seq=3,
                )
            )
    return chunks


# One essay a page; and pages of 126 essays (two chunks each, the most chunks per essay), the
# remaining pages one essay each.
SHAPES = {
    "one-essay pages": [1] * PAGES,
    "two-chunk pages": [126] * ((ESSAYS - PAGES) // 125) + [1] * (PAGES - (ESSAYS - PAGES) // 125),
}


def payload_bytes(value) -> int:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return len(payload.data)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_carried_record_and_the_memo_stay_under_the_payload_warning(shape: str) -> None:
    sizes = SHAPES[shape]
    assert len(sizes) <= PAGES and sum(sizes) <= ESSAYS
    chunks = chunks_for(sizes)
    record = BatchRecord(
        batch_id="b" * 64,
        correlation_id="c" * 128,
        metadata={"k": "v" * 8000},
        create_digest="d" * 64,
        created_at=datetime.now(UTC),
        triggered_at=datetime.now(UTC),
        chunk_rows=[c.to_row() for c in chunks],
        runs=40,
    )
    carried = BatchInput(
        batch_id=record.batch_id,
        correlation_id=record.correlation_id,
        metadata=record.metadata,
        create_digest=record.create_digest,
        carried=record,
    )
    memo = BatchStatus(
        batch_id=record.batch_id,
        state=BatchState.SPELLCHECK_REQUESTED,
        correlation_id=record.correlation_id,
        metadata=record.metadata,
        counts=EssayCounts(published=sum(sizes)),
        created_at=record.created_at,
        chunks=[ChunkRef(number=c.number, essay_count=c.essay_count, key=c.key) for c in chunks],
        runs=40,
    )
    assert payload_bytes(carried) < PAYLOAD_WARNING
    assert payload_bytes(memo) < PAYLOAD_WARNING


def test_a_chunk_row_reads_back_as_the_chunk() -> None:
    [chunk] = chunks_for([7])
    assert ChunkSummary.from_row(chunk.to_row()) == chunk
