"""Which modules each part loads: the API answers HTTP and talks to Temporal, so it must not
load the worker's I/O (the Kafka producer, the HTTP client of the Content Service, the
activities); the contracts load no I/O library at all; settings know nothing of the API; the
workflows, which run outside the SDK's sandbox, load no I/O and read no clock of their own.

Each check imports in a fresh interpreter, since this test process has loaded everything.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from devstack.components import REPO_ROOT


def loaded_by(module: str) -> set[str]:
    """The top-level packages (and `activities` modules) loaded by importing `module`."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_the_api_app_loads_no_worker_io() -> None:
    loaded = tops(loaded_by("api.app"))
    assert loaded.isdisjoint({"aiokafka", "httpx", "activities", "worker"}), loaded


@pytest.mark.parametrize("module", ["contracts.essay", "contracts.batch", "contracts.ids"])
def test_the_contracts_load_no_io_library(module: str) -> None:
    loaded = tops(loaded_by(module))
    io = {"aiokafka", "httpx", "quart", "hypercorn", "activities", "api", "workflows", "settings"}
    assert loaded.isdisjoint(io), loaded & io
    assert not {m for m in loaded_by(module) if m.startswith("temporalio.client")}


def test_settings_know_nothing_of_the_api() -> None:
    assert "api" not in tops(loaded_by("settings"))


WORKFLOW_IO = {"aiokafka", "httpx", "aiohttp", "quart", "hypercorn", "activities", "api", "worker"}
# What a workflow must take from `workflow` (now, random, uuid4, sleep as a timer) or not do.
NONDETERMINISTIC = re.compile(
    r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|time\.monotonic|random\.|"
    r"uuid\.uuid[14]|os\.environ|os\.getenv|open\()"
)


@pytest.mark.parametrize("module", ["workflows.essay", "workflows.chunk", "workflows.batch"])
def test_the_workflows_load_no_io(module: str) -> None:
    # They run outside the SDK's sandbox (docs/architecture.md): this is part of its work.
    loaded = tops(loaded_by(module))
    assert loaded.isdisjoint(WORKFLOW_IO), loaded & WORKFLOW_IO


def test_the_workflows_take_time_and_randomness_from_the_sdk_only() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((REPO_ROOT / "workflows").glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if NONDETERMINISTIC.search(line.split("#")[0])
    ]
    assert not found, found
