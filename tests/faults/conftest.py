"""Fixtures of the fault suite: the whole system as processes that a test may stop, kill and
restart. It starts once for the suite; after each scenario every piece is running again, even
if the scenario failed halfway through an outage. Scenarios tell their events apart by their
essay ids, which carry the scenario's label.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.faults import report
from tests.faults.stack import FaultStack, running_stack


@pytest.fixture(scope="package")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
    async with running_stack(tmp_path_factory.mktemp("faults")) as stack:
        yield stack


@pytest.fixture
async def fault_stack(system: FaultStack) -> AsyncIterator[FaultStack]:
    yield system
    await system.restore()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not report.ROWS:
        return
    path = report.write()
    terminalreporter.section("fault scenarios")
    for line in report.table():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(written to {path})")
