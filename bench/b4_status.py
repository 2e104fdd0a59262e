"""B4: `GET /v1/batch/{id}/status` on a fixed timetable while B3's batch runs, counting
timeouts and 5xx.

Two probes, each a process of its own (`status_probe.py`), poll the running batch from its
first page to its last event: one through the API (status answers at most STATUS_MAX_AGE_S old,
refreshed in the background), one through a second API with that cache off, which reads every
answer from Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator

from bench.harness import Harness
from bench.status_probe import READY

# The API with its status cache, and the one without.
SERVICES = ("api", "api-nocache")
PROBE_START_TIMEOUT_S = 60.0
PROBE_STOP_TIMEOUT_S = 30.0
RESULT_LINE_LIMIT = 1 << 20  # a poll's JSON line: a few KB per hundred GETs


class StatusProbe:
    """The probe process, driven over its stdin (see `status_probe.py`)."""

    def __init__(self, h: Harness, service: str, process: asyncio.subprocess.Process) -> None:
        self._h = h
        self.service = service
        self._process = process

    async def _send(self, line: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{line}\n".encode())
        await self._process.stdin.drain()

    async def poll(self, batch_id: str, stop: asyncio.Event | None = None) -> dict:
        """At most `status_polls` GETs at `status_rate`/s; with `stop`, none after it is set."""
        assert self._process.stdout is not None
        base = self._h.stack.url(self.service)
        await self._send(f"poll {base}/v1/batch/{batch_id}/status")
        result = asyncio.ensure_future(self._process.stdout.readline())
        if stop is not None:
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({result, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not result.done():
                await self._send("stop")
        line = await result
        if not line:
            raise RuntimeError(f"the status probe exited ({self._process.returncode})")
        result = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"the status probe failed: {result['error']}")
        return result


@contextlib.asynccontextmanager
async def status_probe(h: Harness, service: str) -> AsyncIterator[StatusProbe]:
    cfg = h.cfg
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.status_probe", "--rate", str(cfg.status_rate)),
        *("--count", str(cfg.status_polls), "--timeout", str(cfg.status_timeout_s)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=RESULT_LINE_LIMIT,
        # A session of its own is a scheduling group of its own where the kernel groups by
        # session (autogroup): the probe then waits for a CPU like any other client of the API,
        # not behind the load generator it would otherwise share a group with.
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(PROBE_START_TIMEOUT_S):
            ready = await process.stdout.readline()
        if ready.decode().strip() != READY:
            raise RuntimeError(f"the status probe did not start: {ready!r}")
        yield StatusProbe(h, service, process)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # end of input: it stops
        try:
            async with asyncio.timeout(PROBE_STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
