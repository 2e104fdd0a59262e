"""Essay texts of a fixed size and ids that are unique across the whole run."""

from __future__ import annotations

import uuid

FILLER = "Teh quick brown fox jumsp over teh lazy dog. "


def essay_text(n: int, size: int) -> str:
    """`size` bytes of ASCII, different for every n (so no store or cache can dedupe them)."""
    head = f"essay {n}: "
    body = FILLER * (size // len(FILLER) + 1)
    return (head + body)[:size]


class Ids:
    """Prefixes every id with this run's tag, so arms and repetitions never share a key."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]

    def name(self, *parts: object) -> str:
        return "-".join([self.tag, *(str(p) for p in parts)])
