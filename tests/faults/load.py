"""The load a fault scenario pushes through the API: single essays and batches, sent the way a
patient client sends them. A 503 ("retry later") is counted as a refusal and the same request,
with the same ids, is sent again until it is accepted: refused is not lost, and the ids make
the repeat safe. Any other answer than 202 or 503 fails the test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

ACCEPTED = 202
UNAVAILABLE = 503
CONFLICT = 409
# A client's pause before sending a refused request again; the 503 itself took a while.
RETRY_PAUSE_S = 0.5
# Batch pages are sent in this size (the API's limit is 500).
PAGE_SIZE = 100


@dataclass(frozen=True)
class Essay:
    essay_id: str
    text: str
    batch_id: str | None = None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    essays: list[Essay]


def essay_text(label: str, n: int) -> str:
    """A distinct text per essay (its number leads), a few hundred bytes, not only ASCII."""
    return f"{label} essay {n}: Teh quick brown fox jumsp over teh lazy dog, ünïcode 🙂. " * 6


@dataclass
class Client:
    """Sends essays and remembers which were accepted; `label` keeps ids unique per run."""

    api: httpx.AsyncClient
    label: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    accepted: dict[str, Essay] = field(default_factory=dict)
    refused: int = 0  # 503 answers; each refused request was sent again
    unanswered: int = 0  # requests sent again because the connection closed before an answer
    planned: int = 0
    _singles: int = 0

    @property
    def prefix(self) -> str:
        """How every essay id of this client starts."""
        return f"{self.label}-{self.run}-"

    def singles(self, count: int) -> list[Essay]:
        start, self._singles = self._singles, self._singles + count
        self.planned += count
        return [
            Essay(f"{self.prefix}s{n:05d}", essay_text(f"{self.label} single", n))
            for n in range(start, start + count)
        ]

    def batch(self, count: int) -> Batch:
        batch_id = f"{self.prefix}b"
        self.planned += count
        return Batch(
            batch_id,
            [
                Essay(f"{self.prefix}e{n:05d}", essay_text(f"{self.label} batch", n), batch_id)
                for n in range(count)
            ],
        )

    async def send_singles(self, essays: list[Essay], concurrency: int = 4) -> None:
        """POST each essay to /v1/trigger-spellcheck, `concurrency` at a time, until accepted."""
        queue: asyncio.Queue[Essay] = asyncio.Queue()
        for essay in essays:
            queue.put_nowait(essay)

        async def sender() -> None:
            while not queue.empty():
                essay = queue.get_nowait()
                body = {"text": essay.text, "essay_id": essay.essay_id}
                response = await self._until_accepted(
                    lambda body=body: self.api.post("/v1/trigger-spellcheck", json=body),
                    f"essay {essay.essay_id}",
                )
                assert response.json()["essay_id"] == essay.essay_id
                self.accepted[essay.essay_id] = essay

        await asyncio.gather(*(sender() for _ in range(concurrency)))

    async def send_batch(self, batch: Batch, page_size: int = PAGE_SIZE) -> None:
        """Create the batch with its first page, add the others, then trigger it."""
        for start in range(0, len(batch.essays), page_size):
            page = batch.essays[start : start + page_size]
            essays = [{"text": e.text, "essay_id": e.essay_id} for e in page]
            if start == 0:
                path, body = "/v1/batch", {"batch_id": batch.batch_id, "essays": essays}
            else:
                path, body = f"/v1/batch/{batch.batch_id}/essays", {"essays": essays}
            response = await self._until_accepted(
                lambda path=path, body=body: self.api.post(path, json=body),
                f"batch {batch.batch_id} page {start // page_size}",
            )
            assert response.json()["essay_ids"] == [e.essay_id for e in page]
            self.accepted.update((e.essay_id, e) for e in page)
        await self._trigger(batch.batch_id)

    async def _trigger(self, batch_id: str) -> None:
        refused_before = self.refused
        try:
            await self._until_accepted(
                lambda: self.api.post(f"/v1/batch/{batch_id}/spellcheck"),
                f"trigger of batch {batch_id}",
            )
        except ConflictAfterRefusal:
            # A refused trigger may still have reached the batch; then the repeat is a 409.
            assert self.refused > refused_before
            status = (await self.api.get(f"/v1/batch/{batch_id}/status")).json()
            assert status["triggered_at"], status

    async def _until_accepted(
        self, send: Callable[[], Awaitable[httpx.Response]], what: str
    ) -> httpx.Response:
        refused_here = False
        while True:
            try:
                response = await send()
            except httpx.RemoteProtocolError:
                # The API closed an idle keep-alive connection just as this request went out on
                # it, so no answer came: send it again (the ids make that safe), as an HTTP
                # client does. A dead API would fail the retry with a connect error instead.
                self.unanswered += 1
                continue
            if response.status_code == ACCEPTED:
                return response
            if response.status_code == CONFLICT and refused_here:
                raise ConflictAfterRefusal(what)
            assert response.status_code == UNAVAILABLE, (
                f"{what}: {response.status_code} {response.text}"
            )
            assert set(response.json()) == {"error", "details"}, response.text
            self.refused += 1
            refused_here = True
            await asyncio.sleep(RETRY_PAUSE_S)


class ConflictAfterRefusal(Exception):
    """A request answered 409 after an earlier attempt of it was refused with 503."""
