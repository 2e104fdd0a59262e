"""deploy/temporal/*.sh: set-up against the real dev server; the schema steps in order."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from devstack.components import REPO_ROOT, SCRIPTS_DIR, free_port
from tests.deploy.compose_file import environment, load_compose

SETUP = REPO_ROOT / "deploy" / "temporal" / "setup.sh"
SCHEMA = REPO_ROOT / "deploy" / "temporal" / "schema.sh"
# How long one run of the set-up script may take against a running server: a new namespace
# reaches the server's caches within seconds.
RUN_TIMEOUT_S = 90


async def run_script(script: Path, env: dict[str, str], timeout_s: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "sh",
        str(script),
        env={**os.environ, "PATH": f"{SCRIPTS_DIR}:{os.environ['PATH']}", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode()


def compose_setup_env() -> dict[str, str]:
    return environment(load_compose()["services"]["temporal-setup"])


@pytest.mark.parametrize("script", [SETUP, SCHEMA], ids=lambda p: p.name)
def test_scripts_are_valid_posix_sh(script: Path) -> None:
    subprocess.run(["sh", "-n", str(script)], check=True)


async def test_setup_prepares_a_namespace_as_compose_asks(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    namespace = f"setup-{uuid.uuid4().hex[:8]}"  # a new one: the create path
    env = {
        **compose_setup_env(),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": namespace,
        "SETUP_TIMEOUT_S": str(RUN_TIMEOUT_S - 10),
    }
    for run in ("first", "again"):  # the second run finds everything in place
        code, out = await run_script(SETUP, env, RUN_TIMEOUT_S)
        assert code == 0, f"{run} run failed:\n{out}"

    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta()
    assert retention == timedelta(hours=72)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    expected = dict(pair.split("=") for pair in env["TEMPORAL_SEARCH_ATTRIBUTES"].split())
    assert {
        name: IndexedValueType.Name(kind)
        for name, kind in listed.custom_attributes.items()
        if name in expected
    } == {name: f"INDEXED_VALUE_TYPE_{kind.upper()}" for name, kind in expected.items()}


async def test_setup_gives_up_at_its_deadline_when_temporal_is_down() -> None:
    env = {
        **compose_setup_env(),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "SETUP_TIMEOUT_S": "2",
    }
    code, out = await run_script(SETUP, env, RUN_TIMEOUT_S)
    assert code == 1
    assert "gave up after 2s" in out


async def test_setup_refuses_a_malformed_attribute_list_at_once() -> None:
    env = {
        **compose_setup_env(),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_SEARCH_ATTRIBUTES": "BatchId=Keyword EssayId",
    }
    code, out = await run_script(SETUP, env, timeout_s=10)
    assert code == 2
    assert "bad entry 'EssayId'" in out


async def test_schema_sets_up_both_databases_in_order(tmp_path: Path) -> None:
    # temporal-sql-tool exists only in the admin-tools image: a stand-in records its calls.
    calls = tmp_path / "calls"
    tool = tmp_path / "bin" / "temporal-sql-tool"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    tool.chmod(0o755)
    env = {"PATH": f"{tool.parent}:{os.environ['PATH']}"}
    code, out = await run_script(SCHEMA, env, timeout_s=10)
    assert code == 0, out
    root = "/etc/temporal/schema/postgresql/v12"
    assert calls.read_text().splitlines() == [
        "--db temporal create-database",
        "--db temporal setup-schema -v 0.0",
        f"--db temporal update-schema -d {root}/temporal/versioned",
        "--db temporal_visibility create-database",
        "--db temporal_visibility setup-schema -v 0.0",
        f"--db temporal_visibility update-schema -d {root}/visibility/versioned",
    ]
