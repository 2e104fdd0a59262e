"""Property-based fuzzing of the whole API from the document it serves, with Schemathesis.

Schemathesis reads `GET /openapi.json` from the real API (Hypercorn, with the dev server, the
worker, the broker and the content store behind it, so valid requests really go through) and
sends boundary values and valid and invalid requests to every operation. Every built-in check
is on (tests/fuzz/schemathesis.toml): no 5xx; each answer's status, content type, headers and
body as the document says; invalid requests refused with a 4xx, valid ones not; undocumented
methods answered 405 with `Allow`; and (tests/fuzz/hooks.py) every error is JSON
`{"error", "details"}`.

`make test` runs it bounded: a fixed seed and FUZZ_MAX_EXAMPLES (10) examples per operation,
coverage and fuzzing phases. `make fuzz` runs 100 per operation and adds the stateful phase
(chains of requests following the links Schemathesis infers). The figures are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from api.service.openapi import build_document
from tests.conftest import SCRIPTS
from tests.stack import Stack

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = os.environ.get("FUZZ_SEED", "20261129")
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "10")
PHASES = os.environ.get("FUZZ_PHASES", "coverage,fuzzing")
TIMEOUT_S = float(os.environ.get("FUZZ_TIMEOUT_S", "600"))


async def run_schemathesis(document: Path, base_url: str, report: Path) -> tuple[int, str]:
    argv = [
        str(SCRIPTS / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        str(document),
        "--url",
        base_url,
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        "--phases",
        PHASES,
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, output.decode(errors="replace")


async def test_the_api_holds_to_its_document_under_fuzzing(stack: Stack, tmp_path: Path) -> None:
    # The document as the API serves it, saved to a file: read from its URL, Schemathesis
    # would leave out the operation that serves it.
    served = await stack.api.get("/openapi.json")
    assert served.status_code == 200
    document = served.json()
    assert document == build_document(stack.settings)
    document_path, report_path = tmp_path / "openapi.json", tmp_path / "report.json"
    await asyncio.to_thread(document_path.write_bytes, served.content)
    base = f"http://{stack.settings.host}:{stack.settings.port}"
    returncode, output = await run_schemathesis(document_path, base, report_path)
    sys.stdout.write(output)
    report = json.loads(await asyncio.to_thread(report_path.read_text))
    documented = sum(len(ops) for ops in document["paths"].values())
    cases = report["test_cases"]
    print(
        f"\nfuzz figures: {report['operations']['tested']} operations, "
        f"{cases['generated']} test cases, {cases['with_failures']} with failures, "
        f"{len(report['errors'])} errors, {report['running_time']:.0f} s "
        f"(seed {SEED}, {MAX_EXAMPLES} examples per operation, phases {PHASES})"
    )
    assert returncode == 0, output[-8000:]
    assert report["operations"]["tested"] == documented, report["operations"]
    assert cases["generated"] >= documented
    assert report["failures"] == [] and report["errors"] == []
