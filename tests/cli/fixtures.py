"""Fixtures of the command-line tests: the stack's API address and folders of essay files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.stack import Stack


@pytest.fixture
def api_url(stack: Stack) -> str:
    return str(stack.api.base_url).rstrip("/")


@pytest.fixture
def essay_folder(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """A folder holding the given files (name -> text or raw bytes)."""

    def make(files: dict[str, str | bytes], name: str = "essays") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for file_name, content in files.items():
            data = content if isinstance(content, bytes) else content.encode()
            (folder / file_name).write_bytes(data)
        return folder

    return make
