"""The HTTP client every command uses: base URL, API key, retries, and errors users can read.

Retries: a `429` or `503` says "try again later", and so does a request that timed out, so they
are retried (honouring `Retry-After`) until `retry_for_s` has passed. Every request this tool
sends is safe to repeat: batches carry an id or an `Idempotency-Key`, a repeated page is
recognised by the API, single essays carry an `Idempotency-Key`. A refused connection is not
retried: it almost always means a wrong URL or a stopped API, and the user should hear so now.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from batch_cli.errors import UNREACHABLE, ApiRefused, CliError

RETRY_STATUSES = frozenset({429, 503})
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
JSON = "application/json"


def path_part(value: str) -> str:
    """An id as one path segment: whatever the user typed, the API sees it (and judges it)."""
    return quote(value, safe="")


class ApiClient:
    """A thin, synchronous wrapper around `httpx.Client` (a command does one thing at a time)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retry_for_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": JSON, "User-Agent": "batch-service"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )
        self._timeout_s = timeout_s
        self.retry_for_s = retry_for_s
        self._sleep = sleep

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._send("GET", path, params=params)

    def post(self, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
        """POST a body that is already JSON (the caller sized it against the API's limits)."""
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = JSON
        return self._send("POST", path, content=body, headers=headers)

    @contextlib.contextmanager
    def stream(self, path: str, headers: dict[str, str], idle_s: float) -> Iterator[httpx.Response]:
        """A GET whose answer is read as it comes (server-sent events), retried like any other
        until it is answered 2xx; `idle_s` is how long a read may wait for the next bytes."""
        timeout = httpx.Timeout(self._timeout_s, read=max(self._timeout_s, idle_s))
        response = self._request("GET", path, stream=True, headers=headers, timeout=timeout)
        try:
            yield response
        finally:
            response.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        return _json_or_none(self._request(method, path, **kwargs))

    def _request(self, method: str, path: str, stream: bool = False, **kwargs: Any):
        """The answer once it is a success (with `stream`, its body not yet read); an error
        answer is raised as ApiRefused, after the retries."""
        deadline = time.monotonic() + self.retry_for_s
        attempt = 0
        while True:
            attempt += 1
            try:
                request = self._http.build_request(method, path, **kwargs)
                response = self._http.send(request, stream=stream)
                if stream and not response.is_success:
                    response.read()  # the error's body, then the connection goes back
                    response.close()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise self._unreachable(
                    f"cannot reach the API at {self.base_url} ({exc})"
                ) from None
            except httpx.TimeoutException as exc:
                wait = _backoff(attempt)
                if time.monotonic() + wait > deadline:
                    raise self._unreachable(
                        f"the API at {self.base_url} did not answer {method} {path} in time"
                        f" ({type(exc).__name__})"
                    ) from None
                self._sleep(wait)
                continue
            except httpx.HTTPError as exc:
                raise self._unreachable(
                    f"talking to the API at {self.base_url} failed: {exc}"
                ) from None
            if response.status_code in RETRY_STATUSES:
                wait = _retry_after(response) or _backoff(attempt)
                if time.monotonic() + wait <= deadline:
                    self._sleep(wait)
                    continue
                raise _refused(response).with_hint(
                    f"the API kept answering {response.status_code} for"
                    f" {self.retry_for_s:g} s; try again later (or raise --retry-for)"
                )
            if response.is_success:
                return response
            raise _refused(response)

    @staticmethod
    def _unreachable(message: str) -> CliError:
        return CliError(
            message,
            UNREACHABLE,
            ["is the API running? Set its address with --api-url or BATCH_SERVICE_URL"],
        )


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (attempt - 1))


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (the API sends whole seconds), capped so one answer cannot stall
    the tool for long; an HTTP-date or a malformed value falls back to the backoff."""
    raw = response.headers.get("Retry-After", "")
    try:
        return min(MAX_BACKOFF_S, max(0.0, float(raw)))
    except ValueError:
        return None


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise CliError(
            f"the API at {response.request.url} answered {response.status_code} with a body"
            " that is not JSON; is --api-url the batch service?",
            UNREACHABLE,
        ) from None


def _refused(response: httpx.Response) -> ApiRefused:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        refused = ApiRefused(response.status_code, str(body["error"]), body.get("details"))
    else:
        snippet = response.text[:200].strip()
        refused = ApiRefused(
            response.status_code,
            response.reason_phrase or "error",
            f"not the API's JSON error ({snippet!r}); is --api-url the batch service?",
        )
    if response.status_code == 401:
        refused.with_hint("the API wants a valid key: pass --api-key or set BATCH_SERVICE_API_KEY")
    return refused
