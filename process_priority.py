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

AUTOGROUP = Path("/proc/self/autogroup")


def lower_cpu_priority(niceness: int) -> bool:
    """Add `niceness` to this process's; True if its session's group took it as well."""
    os.nice(niceness)
    if os.getsid(0) != os.getpid() or not _in_a_session_group():
        return False
    try:
        # The group's niceness, in the same range as a process's; raising it needs no privilege.
        AUTOGROUP.write_text(str(niceness))
    except OSError:  # no autogroup support in this kernel, or a read-only /proc (containers)
        return False
    return True


def _in_a_session_group() -> bool:
    """Whether the kernel has put this process in a session group.

    The file can exist and be empty: with grouping switched off (or in some sandboxes) every task
    sits in the root group, and a write would be accepted yet change nothing.
    """
    try:
        return AUTOGROUP.read_text().startswith("/autogroup-")
    except OSError:
        return False
