"""Essay files to essays: ids from file names, and every unusable file named before sending."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batch_cli.errors import BAD_INPUT, CliError
from batch_cli.essay_files import essay_id_for, read_essays, unique_essay_ids

API_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # api/http/bodies.py ID_PATTERN


@pytest.mark.parametrize(
    ("stem", "essay_id"),
    [
        ("anna-1", "anna-1"),
        ("Anna Berg", "Anna-Berg"),
        ("Åsa Öberg", "Asa-Oberg"),
        ("  essay #3 (final)  ", "essay-3-final"),
        ("v1.2_draft", "v1.2_draft"),
        ("日本語", "essay"),
        ("x" * 80, "x" * 64),
    ],
)
def test_a_file_name_becomes_an_id_the_api_accepts(stem: str, essay_id: str) -> None:
    assert essay_id_for(stem) == essay_id
    assert API_ID.match(essay_id)


def test_names_that_clash_after_cleaning_get_numbered_ids() -> None:
    ids = unique_essay_ids(["a b", "a-b", "a_b", "a?b", "y" * 70, "y" * 64])
    assert ids == ["a-b", "a-b-2", "a_b", "a-b-3", "y" * 64, "y" * 62 + "-2"]
    assert all(API_ID.match(i) for i in ids)


def test_a_folder_is_read_in_name_order_and_other_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("second")
    (tmp_path / "a.TXT").write_text("first")
    (tmp_path / "notes.md").write_text("not an essay")
    (tmp_path / "sub").mkdir()
    (tmp_path / "bom.txt").write_bytes("\ufeffwith a byte-order mark".encode())

    folder = read_essays(tmp_path)

    assert [(e.essay_id, e.text) for e in folder.essays] == [
        ("a", "first"),
        ("b", "second"),
        ("bom", "with a byte-order mark"),
    ]
    assert [p.name for p in folder.skipped] == ["notes.md"]
    assert folder.renamed == []


def test_one_file_is_a_batch_of_one(tmp_path: Path) -> None:
    essay = tmp_path / "my essay.txt"
    essay.write_text("text")
    folder = read_essays(essay)
    assert [(e.essay_id, e.text) for e in folder.essays] == [("my-essay", "text")]
    assert folder.renamed == folder.essays


def test_every_unusable_file_is_named_and_nothing_is_read_half(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "latin1.txt").write_bytes("naïve".encode("latin-1"))
    (tmp_path / "blank.txt").write_text("  \n\t")
    (tmp_path / "huge.txt").write_text("x" * (384 * 1024 + 1))

    with pytest.raises(CliError) as caught:
        read_essays(tmp_path)

    error = caught.value
    assert error.exit_code == BAD_INPUT
    assert "3 of 4 essay files cannot be sent" in error.message
    assert "latin1.txt is not UTF-8 text (byte 2 is 0xef)" in error.message
    assert "blank.txt is empty" in error.message
    assert "huge.txt is 393,217 bytes" in error.message
    assert "ok.txt" not in error.message
    assert any("UTF-8" in hint for hint in error.hints)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "no such file or folder"),
        (lambda root: root, "no .txt essays in"),
        (lambda root: (root / "essay.md").write_text("x") and root / "essay.md", "not a .txt file"),
    ],
)
def test_paths_without_essays_are_bad_input(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(CliError) as caught:
        read_essays(make(tmp_path))
    assert caught.value.exit_code == BAD_INPUT
    assert message in caught.value.message
