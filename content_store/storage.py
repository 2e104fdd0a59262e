"""File-backed blob storage with atomic writes."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from pathlib import Path

STORAGE_ID = re.compile(r"^[0-9a-f]{32}$")


class KeyReused(ValueError):
    """An Idempotency-Key sent again with other content."""


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, storage_id: str) -> Path:
        # Two-character fan-out keeps directories small at tens of thousands of essays.
        return self.root / storage_id[:2] / storage_id

    def put(self, data: bytes, idempotency_key: str | None = None) -> str:
        """Store `data` under a new id; under a key's own id when one is given, so a repeat of
        the same store gets the same id. KeyReused when the key came with other data."""
        if idempotency_key is None:
            storage_id = uuid.uuid4().hex
        else:
            storage_id = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
            earlier = self.get(storage_id)
            if earlier is not None:
                if earlier != data:
                    raise KeyReused(idempotency_key)
                return storage_id
        target = self._path(storage_id)
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return storage_id

    def get(self, storage_id: str) -> bytes | None:
        try:
            return self._path(storage_id).read_bytes()
        except FileNotFoundError:
            return None
