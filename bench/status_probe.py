"""B4's status probe, a process of its own: `GET` a status URL on a fixed timetable.

The load generator starts it and drives it over stdin, one command per line:

- `poll <url>`: send at most `--count` GETs at `--rate`/s, then write one line of JSON with
  what they gave (a GET slower than `--timeout` counts as a timeout), or with `error`;
- `stop`: send no more GETs in the poll under way (its line follows); ignored between polls.

Both of B4's windows (idle and loaded) are timed from this one process, so what they compare is
the API's answer, not the load generator's own event loop: while B3 runs, that loop reads ten
thousand events and sends pages, and a GET it timed waited on that work too. In one run, half
of the loaded GETs over 25 ms had taken under 25 ms in the API, by its access log.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time

import uvloop

from bench import stats
from bench.http_client import LoadClient
from bench.load import Outcome, open_loop

READY = "ready"
CORRELATION_PREFIX = "probe-"
CONNECTIONS = 8  # a slow GET must not delay the next one on the timetable


async def poll(
    client: LoadClient, url: str, rate: float, count: int, timeout_s: float, stop: asyncio.Event
) -> dict:
    async def call(i: int) -> Outcome:
        # The API's access log records this id with the GET's time inside the API, which
        # `explain_b4.py` sets beside the probe's own timing.
        headers = {"X-Correlation-ID": f"{CORRELATION_PREFIX}{i}"}
        sent = time.monotonic()  # later than due when this process waited for a CPU
        response = await client.get(url, headers=headers, timeout_s=timeout_s)
        return Outcome(response.status == 200, response.status, sent)

    budget = count / rate + timeout_s + 30
    unix_offset = time.time() - time.monotonic()  # samples are timed on the monotonic clock
    run = await open_loop(rate, count, call, timeout_s=budget, stop=stop)
    latencies = [s.latency_s * 1000 for s in run.ok]
    return {
        "requests": len(run.samples),
        "ok": len(run.ok),
        "timeouts": sum(s.timed_out for s in run.samples),
        "server_errors": sum(1 for s in run.samples if s.status is not None and s.status >= 500),
        "errors": run.errors(),
        "p50_ms": stats.p50(latencies),
        "p99_ms": stats.p99(latencies),
        "latencies_ms": [round(v, 3) for v in latencies],
        # Each answered GET as [n, when it was due (Unix time, s), latency (ms), how late it was
        # sent (ms)].
        "gets": [
            [
                s.index,
                round(s.start + unix_offset, 4),
                round(s.latency_s * 1000, 3),
                round((s.value - s.start) * 1000, 3),
            ]
            for s in run.ok
        ],
    }


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    client = LoadClient(max_connections=CONNECTIONS)
    stop = asyncio.Event()
    current: asyncio.Task[None] | None = None

    async def answer(url: str, stop: asyncio.Event) -> None:
        try:
            result = await poll(client, url, args.rate, args.count, args.timeout, stop)
        except Exception as exc:  # the load generator waits for a line: it must get one
            result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()

    gc.collect()
    gc.freeze()
    print(READY, flush=True)
    try:
        while line := (await commands.readline()).decode().strip():
            command, _, url = line.partition(" ")
            if command == "poll":
                if current is not None:
                    await current  # one poll at a time
                stop = asyncio.Event()
                current = asyncio.create_task(answer(url, stop))
            elif command == "stop":
                stop.set()
            else:
                raise SystemExit(f"status probe: unknown command {line!r}")
        stop.set()  # end of input: finish the poll under way
        if current is not None:
            await current
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.status_probe")
    parser.add_argument("--rate", type=float, required=True, help="GETs per second")
    parser.add_argument("--count", type=int, required=True, help="most GETs per poll")
    parser.add_argument("--timeout", type=float, required=True, help="seconds per GET")
    uvloop.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
