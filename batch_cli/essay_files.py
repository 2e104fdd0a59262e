"""Essays from disk: a `.txt` file, or a folder of them, one essay per file.

Everything is read and checked before anything is sent, so a bad file stops the command
before a half-made batch exists. Nothing is skipped silently: other files in the folder are
named in the output, and so is every essay id that had to be changed to fit the API's rules.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from batch_cli.errors import BAD_INPUT, CliError

SUFFIX = ".txt"
# The API's rules (api/http/bodies.py, api/batches/pages.py); repeated here because this tool
# talks to the API over HTTP and must not import the server's code.
ID_MAX = 64
NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ESSAY_TEXT_BYTES = 384 * 1024
MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class Essay:
    path: Path
    essay_id: str
    text: str


@dataclass
class EssayFolder:
    essays: list[Essay]
    skipped: list[Path] = field(default_factory=list)  # not .txt: named, never sent
    renamed: list[Essay] = field(default_factory=list)  # id differs from the file's stem


def essay_id_for(stem: str) -> str:
    """A file name stem as an essay id: accents dropped ('Åsa' -> 'Asa'), any run of other
    characters made one '-', cut to 64 characters; 'essay' when nothing is left."""
    ascii_only = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = NOT_ID_CHARS.sub("-", ascii_only).strip("-")
    return cleaned[:ID_MAX] or "essay"


def unique_essay_ids(stems: list[str]) -> list[str]:
    """Ids for the stems in order; a clash (e.g. 'a b' and 'a-b') gets '-2', '-3', ..."""
    taken: set[str] = set()
    ids = []
    for stem in stems:
        base = candidate = essay_id_for(stem)
        number = 2
        while candidate in taken:
            suffix = f"-{number}"
            candidate = base[: ID_MAX - len(suffix)] + suffix
            number += 1
        taken.add(candidate)
        ids.append(candidate)
    return ids


def read_text(path: Path) -> str:
    """A file's text as UTF-8; a byte-order mark (as some editors write) is not part of it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", BAD_INPUT) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x})",
            BAD_INPUT,
            ["save it as UTF-8 (most editors offer it under 'Save as' / encoding)"],
        ) from None


def _essay_paths(path: Path) -> tuple[list[Path], list[Path]]:
    if not path.exists():
        raise CliError(f"no such file or folder: {path}", BAD_INPUT)
    if path.is_file():
        if path.suffix.lower() != SUFFIX:
            raise CliError(f"{path} is not a {SUFFIX} file", BAD_INPUT)
        return [path], []
    if not path.is_dir():
        raise CliError(f"{path} is neither a file nor a folder", BAD_INPUT)
    entries = sorted(p for p in path.iterdir() if p.is_file())
    essays = [p for p in entries if p.suffix.lower() == SUFFIX]
    others = [p for p in entries if p.suffix.lower() != SUFFIX]
    if not essays:
        found = f" (it holds {len(others)} other files)" if others else ""
        raise CliError(
            f"no {SUFFIX} essays in {path}{found}",
            BAD_INPUT,
            [f"put one essay per {SUFFIX} file in the folder (sub-folders are not read)"],
        )
    return essays, others


def _problem(path: Path, text: str) -> str | None:
    if not text.strip():
        return f"{path} is empty (or white space only)"
    size = len(text.encode())
    if size > MAX_ESSAY_TEXT_BYTES:
        return f"{path} is {size:,} bytes; an essay may be at most {MAX_ESSAY_TEXT_BYTES:,}"
    return None


def read_essays(path: Path) -> EssayFolder:
    """Every essay under `path`, checked; one error lists every file that cannot be sent."""
    paths, skipped = _essay_paths(path)
    texts: list[str] = []
    problems: list[str] = []
    hints: list[str] = []
    for essay_path in paths:
        try:
            text = read_text(essay_path)
        except CliError as exc:
            problems.append(exc.message)
            hints.extend(h for h in exc.hints if h not in hints)
            continue
        texts.append(text)
        if (problem := _problem(essay_path, text)) is not None:
            problems.append(problem)
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        detail = "".join(f"\n  {p}" for p in shown) + (f"\n  ... and {more} more" if more else "")
        raise CliError(
            f"{len(problems)} of {len(paths)} essay files cannot be sent:{detail}", BAD_INPUT, hints
        )
    ids = unique_essay_ids([p.stem for p in paths])
    essays = [Essay(p, i, t) for p, i, t in zip(paths, ids, texts, strict=True)]
    return EssayFolder(essays, skipped, [e for e in essays if e.essay_id != e.path.stem])
