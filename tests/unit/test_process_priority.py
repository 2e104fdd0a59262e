"""A niced worker also ranks its session below others where the kernel groups by session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import process_priority
from devstack.components import ManagedProcess
from tests.helpers import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
# Lowers its own priority, then reports what the kernel says of it.
CHILD = """
import json, os
from process_priority import lower_cpu_priority
grouped = lower_cpu_priority(7)
try:
    group = open("/proc/self/autogroup").read()
except OSError:
    group = ""
print(json.dumps({"grouped": grouped, "nice": os.nice(0), "group": group}))
"""


def _niceness(autogroup_line: str) -> int | None:
    """The group's niceness from its line in /proc (`/autogroup-12 nice 10`).

    None for an empty line: the file exists but the task is in no session group (grouping is
    switched off, as on some CI machines).
    """
    fields = autogroup_line.split()
    return int(fields[-1]) if fields else None


def autogroup_niceness(pid: int) -> int | None:
    """`pid`'s session group's niceness, None where the kernel has no such groups."""
    try:
        return _niceness(Path(f"/proc/{pid}/autogroup").read_text())
    except OSError:
        return None


def _new_sessions_are_grouped() -> bool:
    """Whether a process that starts a session of its own gets a session group.

    Asked of a fresh session rather than of this process: on some machines (CI's) the test run
    itself sits in the root group, yet every new session still gets a group of its own.
    """
    done = subprocess.run(
        ["cat", "/proc/self/autogroup"],
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    return done.returncode == 0 and _niceness(done.stdout) is not None


NEW_SESSIONS_GROUPED = _new_sessions_are_grouped()
needs_session_groups = pytest.mark.skipif(
    not NEW_SESSIONS_GROUPED, reason="this kernel does not group tasks by session"
)
needs_our_own_group = pytest.mark.skipif(
    autogroup_niceness(os.getpid()) is None, reason="this test run sits in no session group"
)


def _run_child(new_session: bool) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        start_new_session=new_session,
    )
    report = json.loads(done.stdout)
    return {**report, "group": _niceness(report["group"])}


@needs_session_groups
def test_a_session_leader_lowers_its_group_too() -> None:
    child = _run_child(new_session=True)
    assert child == {"grouped": True, "nice": os.nice(0) + 7, "group": 7}


@needs_our_own_group
def test_a_process_in_another_session_leaves_the_group_alone() -> None:
    before = autogroup_niceness(os.getpid())
    child = _run_child(new_session=False)
    assert child["grouped"] is False
    assert child["nice"] == os.nice(0) + 7
    assert child["group"] == before == autogroup_niceness(os.getpid())


def test_the_process_itself_is_lowered_wherever_it_runs() -> None:
    child = _run_child(new_session=True)
    assert child["nice"] == os.nice(0) + 7
    # Grouped exactly where the kernel gave its session a group, and then the group is lowered.
    assert child["grouped"] is NEW_SESSIONS_GROUPED
    assert child["group"] == (7 if NEW_SESSIONS_GROUPED else None)


@pytest.mark.parametrize(
    ("content", "grouped"),
    [("/autogroup-12 nice 0\n", True), ("", False), (None, False)],
    ids=["grouped", "grouping-off", "no-such-file"],
)
def test_only_a_real_session_group_counts(
    content: str | None, grouped: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    autogroup = tmp_path / "autogroup"
    if content is not None:
        autogroup.write_text(content)
    monkeypatch.setattr(process_priority, "_autogroup", lambda pid: autogroup)
    assert process_priority._in_a_session_group(os.getpid()) is grouped


def test_niced_runs_the_command_under_nice_only_when_asked() -> None:
    assert process_priority.niced(["worker", "--x"], 10) == ["nice", "-n", "10", "worker", "--x"]
    assert process_priority.niced(["worker"], 0) == ["worker"]


def _process_niceness(pid: int) -> int:
    """Field 19 of /proc/<pid>/stat, counted after the parenthesised command name."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[16])


async def test_a_managed_process_runs_lowered_with_its_session_group() -> None:
    ours = autogroup_niceness(os.getpid())
    # It waits for a signal; stop() sends SIGTERM.
    pause = [sys.executable, "-c", "import signal; signal.pause()"]
    child = ManagedProcess("lowered", pause, niceness=5)
    child.start()
    try:
        assert child.pid is not None
        pid = child.pid

        async def lowered() -> bool:  # `nice` lowers itself, then becomes the command
            return _process_niceness(pid) == os.nice(0) + 5

        await wait_until(lowered, timeout_s=10, what="the child at niceness +5")
        assert autogroup_niceness(pid) == (5 if NEW_SESSIONS_GROUPED else None)
        assert autogroup_niceness(os.getpid()) == ours
    finally:
        child.stop()
