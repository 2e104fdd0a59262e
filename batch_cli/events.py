"""Following a batch through `GET /v1/batch/{id}/events`: the API sends each change of the
batch as it happens (server-sent events), so the tool needs no polling.

A stream ends by itself after the batch's final event (`"final": true`). One that drops, or
ends without that event (the API was restarted: it ends its streams when it stops), is opened
again with `Last-Event-ID`, so nothing seen is sent again; while no stream can be opened the
tool keeps trying for `--retry-for` seconds, as for any request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from batch_cli.api_client import ApiClient, path_part
from batch_cli.errors import UNREACHABLE, ApiRefused, CliError
from batch_cli.sse import EventReader

# The API sends a comment at least this often while nothing changes; a read waits twice that.
KEEP_ALIVE_S = 15.0
STATUS_EVENT = "status"


def events_path(batch_id: str) -> str:
    return f"/v1/batch/{path_part(batch_id)}/events"


def batch_events(
    client: ApiClient,
    batch_id: str,
    done: Callable[[dict[str, Any]], bool] | None = None,
    pause_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Each status the API sends, until (and including) the final one or one `done` accepts."""
    last_id: str | None = None
    opened = False
    failing_since: float | None = None
    while True:
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        try:
            with client.stream(events_path(batch_id), headers, 2 * KEEP_ALIVE_S) as response:
                opened = True
                reader = EventReader()
                for line in response.iter_lines():
                    failing_since = None
                    event = reader.feed(line)
                    if event is None or event.event != STATUS_EVENT:
                        continue
                    last_id = event.id
                    status = json.loads(event.data)
                    yield status
                    if status.get("final") or (done is not None and done(status)):
                        return
        except ApiRefused as exc:
            if exc.status == 404:
                exc.with_hint(f"no batch {batch_id!r} here (or it belongs to another API key)")
            raise
        except CliError as exc:  # no connection: at once the first time, a restart later
            if not opened or exc.exit_code != UNREACHABLE:
                raise
            failing_since = _still_trying(failing_since, client.retry_for_s, exc)
        except httpx.HTTPError as exc:  # dropped while reading (a reset, a read timeout)
            failing_since = _still_trying(failing_since, client.retry_for_s, exc)
        sleep(pause_s)


def _still_trying(since: float | None, retry_for_s: float, error: Exception) -> float:
    """When the stream began failing; past `retry_for_s` of failures, the failure is final."""
    now = time.monotonic()
    since = now if since is None else since
    if now - since > retry_for_s:
        if isinstance(error, CliError):
            raise error
        raise CliError(
            f"lost the API's event stream and could not open it again ({error!r})", UNREACHABLE
        ) from error
    return since
