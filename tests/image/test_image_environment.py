"""What the service image runs, without a Docker engine: a venv built the way the Dockerfile
builds it (production dependencies from the lock file only, no self-install), beside only the
files the Dockerfile copies, with the image's environment; the API and the worker started from
it against a dev server, and every route of the API called.

A second venv takes a minute to build, so this runs under `make test-image`, not `make test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from devstack.components import REPO_ROOT, ManagedProcess, create_topic, free_port
from settings import Settings
from tests.conftest import HOST, Server, content_url
from tests.deploy.dockerfile import copy_sources, parse_dockerfile
from tests.helpers import wait_until
from tests.stack import start_worker

pytestmark = pytest.mark.skipif(
    os.environ.get("IMAGE_ENV") != "1", reason="a venv of its own: make test-image"
)
PDM = REPO_ROOT / os.environ.get("PDM", ".tools/pdm/bin/pdm")


def run(*argv: str | Path, cwd: Path) -> None:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/app as the image holds it: the venv, then the files the final stage copies."""
    root = tmp_path_factory.mktemp("app")
    stages = parse_dockerfile()
    deps, final = stages[0], stages[-1]
    for instruction in deps.all("COPY"):
        for source in copy_sources(instruction)[0]:
            shutil.copy(REPO_ROOT / source, root / source)
    run(sys.executable, "-m", "venv", root / ".venv", cwd=root)
    run(PDM, "use", "--quiet", "--ignore-remembered", "-f", root / ".venv/bin/python", cwd=root)
    # The Dockerfile's own sync, word for word.
    (sync,) = [i.args for i in deps.all("RUN") if "pdm sync" in i.args]
    run(PDM, "sync", *sync.split("pdm sync", 1)[1].split("&&")[0].split(), cwd=root)
    for instruction in final.all("COPY"):
        sources, destination, from_stage = copy_sources(instruction)
        if from_stage is not None:
            continue  # the venv, built above
        for source in sources:
            # Docker's rules: a folder's contents go to the destination; files go into it
            # when it ends in "/", else to it.
            place = root / destination.removeprefix("/app").lstrip("/")
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(REPO_ROOT / source, place, dirs_exist_ok=True)
            else:
                target = place / Path(source).name if destination.endswith("/") else place
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO_ROOT / source, target)
    for leftover in ("pyproject.toml", "pdm.lock", ".pdm-python"):
        if not any(leftover in copy_sources(i)[0] for i in final.all("COPY")):
            (root / leftover).unlink(missing_ok=True)
    return root


@pytest.fixture(scope="module")
async def image_stack(
    image_root: Path, dev_env: WorkflowEnvironment, broker: Server, content_store: Server
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        host=HOST,
        port=free_port(),
        api_metrics_port=0,
        worker_metrics_port=0,
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_task_queue=f"tq-{uuid.uuid4()}",
        kafka_bootstrap_servers=broker.address,
        kafka_topic=f"image-{uuid.uuid4().hex[:8]}",
        kafka_enable_idempotence=False,
        content_service_url=content_url(content_store),
    )
    await create_topic(broker.address, settings.kafka_topic)
    venv_bin = image_root / ".venv" / "bin"
    # The image's environment (Dockerfile ENV), and nothing of this checkout's.
    env = {
        **settings.as_env(),
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "PYTHONPATH": str(image_root),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "VIRTUAL_ENV": "",
    }
    logs = image_root / "logs"
    command = parse_dockerfile()[-1].all("CMD")[-1].words()
    api = ManagedProcess(
        "api",
        [str(venv_bin / command[0]), *command[1:]],
        env=env,
        cwd=image_root,
        log_path=logs / "api.log",
    )
    worker = ManagedProcess(
        "worker",
        [str(venv_bin / "python"), "worker.py"],
        env=env,
        cwd=image_root,
        log_path=logs / "worker.log",
    )
    try:
        await start_worker(worker, dev_env.client, settings)
        await Server(api, settings.port).start()
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{settings.port}", timeout=30) as http:
            yield http
    finally:
        api.stop()
        worker.stop()


async def test_every_route_answers_from_the_image(image_stack: httpx.AsyncClient) -> None:
    http = image_stack
    document = await http.get("/openapi.json")
    assert document.status_code == 200, document.text
    assert (await http.get("/docs")).status_code == 200
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    single = await http.post("/v1/trigger-spellcheck", json={"text": "Helo wrold"})
    assert single.status_code == 202, single.text
    essay_id = single.json()["essay_id"]
    batch_id = f"image-{uuid.uuid4().hex[:8]}"
    created = await http.post("/v1/batch", json={"batch_id": batch_id, "essays": [{"text": "a"}]})
    assert created.status_code == 202, created.text
    added = await http.post(f"/v1/batch/{batch_id}/essays", json={"essays": [{"text": "b"}]})
    assert added.status_code == 202, added.text
    assert (await http.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    other = f"image-{uuid.uuid4().hex[:8]}"
    await http.post("/v1/batch", json={"batch_id": other, "essays": [{"text": "c"}]})
    assert (await http.post(f"/v1/batch/{other}/cancel")).status_code == 202

    async def published(path: str, state: str) -> bool:
        answer = await http.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()["state"] == state

    await wait_until(
        lambda: published(f"/v1/essays/{essay_id}/status", "published"),
        timeout_s=60,
        what="the essay published by the image's worker",
    )
    await wait_until(
        lambda: published(f"/v1/batch/{batch_id}/status", "completed"),
        timeout_s=60,
        what="the batch completed",
    )
    paths = set(document.json()["paths"])
    assert paths == {
        "/healthz", "/readyz", "/openapi.json", "/docs", "/v1/trigger-spellcheck",
        "/v1/essays/{essay_id}/status", "/v1/batch", "/v1/batch/{batch_id}/essays",
        "/v1/batch/{batch_id}/spellcheck", "/v1/batch/{batch_id}/cancel",
        "/v1/batch/{batch_id}/status",
    }  # fmt: skip
