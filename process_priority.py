"""Lowering a process's CPU priority so that it also counts against other sessions.

`os.nice` ranks a process only against the others in its own scheduling group. Where the kernel
groups tasks by session (autogroup, `/proc/sys/kernel/sched_autogroup_enabled`), every session
is one group and groups share the CPU equally: a niced process that leads a session of its own
(as `make dev` and the bench start each piece) competes with the API and the Temporal server
exactly as before. So a session leader sets its group's niceness too. A process inside someone
else's session (a shell's, say) leaves the group alone, since that would slow the others in it.
"""

from __future__ import annotations

import os
from pathlib import Path


def lower_cpu_priority(niceness: int) -> bool:
    """Add `niceness` to this process's; True if its session's group took it as well."""
    os.nice(niceness)
    return lower_session_priority(os.getpid(), niceness)


def lower_session_priority(pid: int, niceness: int) -> bool:
    """Set the niceness of the session group that `pid` leads; False, and nothing changed,
    when it leads no session or the kernel does not group tasks by session."""
    if os.getsid(pid) != pid or not _in_a_session_group(pid):
        return False
    try:
        # The group's niceness, in the same range as a process's; raising it needs no privilege.
        _autogroup(pid).write_text(str(niceness))
    except OSError:  # no autogroup support in this kernel, or a read-only /proc (containers)
        return False
    return True


def niced(argv: list[str], niceness: int) -> list[str]:
    """`argv` run under `nice`, lowered before its first instruction: every thread it starts
    inherits the niceness (each thread has its own, so lowering a running process's pid would
    leave the threads it already has, a Go server's for one, as they were)."""
    return ["nice", "-n", str(niceness), *argv] if niceness else list(argv)


def _autogroup(pid: int) -> Path:
    return Path(f"/proc/{pid}/autogroup")


def _in_a_session_group(pid: int) -> bool:
    """Whether the kernel has put `pid` in a session group.

    The file can exist and be empty: with grouping switched off (or in some sandboxes) every task
    sits in the root group, and a write would be accepted yet change nothing.
    """
    try:
        return _autogroup(pid).read_text().startswith("/autogroup-")
    except OSError:
        return False
