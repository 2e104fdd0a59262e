"""Which chunk of a batch holds an essay, without per-essay state in the batch's parent.

A result names only its essay and its batch (`parent_id`). The parent's memo lists its chunks'
keys, and each chunk's memo lists its essays: reading those once gives the batch's whole index,
which is kept (a few batches at a time) for the results that follow. An essay missing from a
kept index is looked up again once the index is a little old: only a page added after it was
read could hold it, and the events of a batch go out only after its last page.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from temporalio.client import Client

from contracts.batch import STATUS_MEMO, BatchStatus, ChunkStatus
from contracts.ids import BATCH_WORKFLOW, CHUNK_WORKFLOW, batch_workflow_id, chunk_workflow_id
from temporal_client import describe_if_any

# Batches whose index is kept: each costs about 100 bytes an essay.
KEPT_BATCHES = 32
# A kept index that misses an essay is read again once it is this old.
REREAD_AFTER_S = 5.0
# Describes in flight at once while reading a batch's chunks.
READS_AT_ONCE = 16


@dataclass
class BatchIndex:
    chunk_of: dict[str, str] = field(default_factory=dict)  # essay id -> chunk key
    read_at: float = 0.0
    exists: bool = True


class ChunkFinder:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._kept: OrderedDict[str, BatchIndex] = OrderedDict()
        self.reads = 0  # whole-batch reads, for the tests

    async def chunk_of(self, batch_id: str, essay_id: str) -> str | None:
        """The key of the chunk that holds the essay; None if the batch has no such essay."""
        index = self._kept.get(batch_id)
        stale = index is not None and time.monotonic() - index.read_at >= REREAD_AFTER_S
        if index is None or (essay_id not in index.chunk_of and stale):
            index = await self._read(batch_id)
            self._kept[batch_id] = index
            while len(self._kept) > KEPT_BATCHES:
                self._kept.popitem(last=False)
        self._kept.move_to_end(batch_id)
        return index.chunk_of.get(essay_id)

    async def _read(self, batch_id: str) -> BatchIndex:
        self.reads += 1
        parent = await describe_if_any(self._client, batch_workflow_id(batch_id))
        if parent is None or parent.workflow_type != BATCH_WORKFLOW:
            return BatchIndex(read_at=time.monotonic(), exists=False)
        status = await parent.memo_value(STATUS_MEMO, None, type_hint=BatchStatus)
        keys = [c.key for c in status.chunks if c.key] if status else []
        slots = asyncio.Semaphore(READS_AT_ONCE)

        async def essays_of(key: str) -> list[tuple[str, str]]:
            async with slots:
                chunk = await describe_if_any(self._client, chunk_workflow_id(batch_id, key))
            if chunk is None or chunk.workflow_type != CHUNK_WORKFLOW:
                return []
            held = await chunk.memo_value(STATUS_MEMO, None, type_hint=ChunkStatus)
            return [(e.essay_id, key) for e in held.essays] if held else []

        found = await asyncio.gather(*(essays_of(key) for key in keys))
        return BatchIndex(
            chunk_of={essay: key for pairs in found for essay, key in pairs},
            read_at=time.monotonic(),
        )
