"""A small Dockerfile reader: enough of the format to check what this repository's file does.

It joins continuation lines, drops comments, splits the file into stages at each FROM and
substitutes ARG defaults into later instructions. It does not evaluate anything else.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from devstack.components import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY...
    args: str  # the rest of the (joined) line, ARG values substituted

    def words(self) -> list[str]:
        """The arguments as a list: JSON (exec) form or shell-like words."""
        text = self.args.strip()
        if text.startswith("["):
            return json.loads(text)
        return shlex.split(text)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _substitute(text: str, args: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        return args.get(name, match[0])

    return re.sub(r"\$\{(?P<braced>\w+)\}|\$(?P<bare>\w+)", value, text)


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages in order. ARGs before the first FROM apply to FROM lines only, as in Docker."""
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    stage_args: dict[str, str] = {}
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG":
            name, _, default = rest.strip().partition("=")
            target = stage_args if stages else global_args
            target[name] = default.strip().strip('"')
            continue
        if keyword == "FROM":
            words = _substitute(rest, global_args).split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            stage_args = {}
            continue
        assert stages, f"{keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, _substitute(rest, stage_args)))
    return stages


def copy_sources(instruction: Instruction) -> tuple[list[str], str, str | None]:
    """(sources, destination, --from stage or None) of a COPY."""
    words = instruction.words()
    from_stage = None
    plain = []
    for word in words:
        if word.startswith("--from="):
            from_stage = word.removeprefix("--from=")
        elif not word.startswith("--"):
            plain.append(word)
    return plain[:-1], plain[-1], from_stage


def dockerignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert not line.startswith("!"), "exceptions (!) are not understood by these tests"
            patterns.append(line.strip("/"))
    return patterns


def is_ignored(relative_path: str, patterns: list[str]) -> bool:
    """True when .dockerignore keeps `relative_path` (or a folder above it) out of the context."""
    parts = Path(relative_path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(
                candidate.rsplit("/", 1)[-1], pattern.removeprefix("**/")
            ):
                return True
    return False
