"""Facts read from /proc: CPU time and peak memory of a process tree, and what machine this is."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # The command name (field 2) may hold spaces and parentheses: parse after the last ")".
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree(pid: int, leave_out: frozenset[int] = frozenset()) -> list[int]:
    """`pid` and all its living descendants, but for those under the pids in `leave_out`."""
    children = _children_of()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(c for c in children.get(current, []) if c not in leave_out)
    return found


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])  # "VmHWM:   123456 kB"
    except OSError:
        return None
    return None


def peak_rss(pid: int) -> dict:
    """VmHWM (peak resident set) of the tree under `pid`: per process, their sum and max, MiB.

    The sum is what the targets use: it bounds the tree's peak from above (each process peaked
    at some moment, not necessarily the same one).
    """
    per_pid = {}
    for member in tree(pid):
        kib = _status_kib(member, "VmHWM")
        if kib is not None:
            per_pid[member] = {"cmd": _cmdline(member), "vmhwm_mib": kib / 1024}
    values = [p["vmhwm_mib"] for p in per_pid.values()]
    return {
        "pid": pid,
        "processes": per_pid,
        "sum_mib": sum(values),
        "max_mib": max(values, default=0.0),
    }


def clear_peak_rss(pid: int) -> None:
    """Start the tree's VmHWM again from its current RSS (writing 5 to clear_refs), so the
    next reading is the peak since now."""
    for member in tree(pid):
        try:
            (PROC / str(member) / "clear_refs").write_text("5")
        except OSError:  # exited meanwhile, or not ours
            continue


def cpu_ms(pid: int, leave_out: frozenset[int] = frozenset()) -> float:
    """CPU time (user + system) the tree under `pid` has used, in milliseconds: its living
    members' own and that of their children that have exited and were waited for. The subtrees
    under the pids in `leave_out` are not counted."""
    total_ticks = 0
    for member in tree(pid, leave_out):
        try:
            stat = (PROC / str(member) / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # Fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 after the ")".
        total_ticks += sum(int(f) for f in fields[11:15])
    return total_ticks * 1000 / TICKS_PER_S


def _cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200]


def machine() -> dict:
    info: dict = {
        "nproc": _nproc(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_mib": (_meminfo_kib("MemTotal") or 0) / 1024,
        "python": sys.version,
        "platform": platform.platform(),
        "loadavg_start": loadavg(),
    }
    return info


def _nproc() -> int | None:
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    except (OSError, ValueError, subprocess.CalledProcessError):
        return len(os.sched_getaffinity(0))


def _cpu_model() -> str:
    try:
        text = (PROC / "cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    # x86 says "model name"; some aarch64 kernels say nothing but "CPU part".
    for key in ("model name", "Model", "Hardware", "CPU part"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _meminfo_kib(field: str) -> int | None:
    try:
        for line in (PROC / "meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def loadavg() -> list[float]:
    """1, 5 and 15 minute load averages: how busy the shared machine was."""
    try:
        return [float(x) for x in (PROC / "loadavg").read_text().split()[:3]]
    except OSError:
        return []
