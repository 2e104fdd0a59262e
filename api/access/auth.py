"""Access to the API: which client sent a request (its API key), and whether it may now.

Runs before every handler except the probes (`/healthz`, `/readyz`), which always answer:
1. With `API_KEYS` set, the key comes in `Authorization: Bearer <key>` or `X-API-Key: <key>`;
   a missing or unknown one is 401 with `WWW-Authenticate`. Without `API_KEYS` the API is open.
2. With a rate limit set, the client (or, while open, its address) takes a token; none left
   is 429 with `Retry-After`. Refused keys are charged to the sender's address, which slows
   down guessing.

Keys never reach a log line: only the client's name (or a bare key's fingerprint) does.
"""

from __future__ import annotations

import logging

from quart import Quart, g, request

from api.access.rate_limit import RateLimiter
from api.http.errors import ApiError
from api.service.health import PATHS as PROBE_PATHS
from api_keys import KeyRing

log = logging.getLogger(__name__)

# Served without a key if someone adds them: API docs hold nothing a key protects.
DOC_PATHS = frozenset({"/openapi.json", "/docs"})
REALM = 'Bearer realm="huleedu-batch-service"'
HOW = "send the key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def current_client() -> str | None:
    """The client that sent this request, which owns what it creates; None while open."""
    return g.get("client")


def _address() -> str:
    return f"addr:{request.remote_addr or 'unknown'}"


def requester() -> str:
    """Whom a per-client limit counts this request against: its client, or while the API is
    open its address."""
    return current_client() or _address()


def _unauthorized(details: str, *, invalid: bool) -> ApiError:
    # RFC 6750: `error="invalid_token"` only when a credential was sent and refused.
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return ApiError(401, "Unauthorized", details, {"WWW-Authenticate": challenge})


def _presented_key() -> str:
    bearer = None
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(f"unsupported Authorization header; {HOW}", invalid=True)
        bearer = token.strip()
    api_key = request.headers.get("X-API-Key")
    api_key = api_key.strip() if api_key is not None else None
    if bearer is not None and api_key is not None and bearer != api_key:
        raise _unauthorized("Authorization and X-API-Key carry different keys", invalid=True)
    key = bearer or api_key
    if not key:
        raise _unauthorized(f"an API key is required; {HOW}", invalid=False)
    return key


def _authenticate(ring: KeyRing) -> str:
    key = _presented_key()
    client = ring.identify(key)
    if client is None:
        raise _unauthorized("the API key is not valid", invalid=True)
    return client


def _throttle(limiter: RateLimiter, client: str) -> None:
    wait_s = limiter.take(client)
    if wait_s:
        retry_after = limiter.retry_after_s(wait_s)
        raise ApiError(
            429,
            "Too many requests",
            f"more than {limiter.per_s:g} requests per second (burst {limiter.burst}); "
            f"retry after {retry_after} s",
            {"Retry-After": str(retry_after)},
        )


def register_access(app: Quart, ring: KeyRing | None, limiter: RateLimiter | None) -> None:
    if ring is None:
        log.warning(
            "API_KEYS is not set: the API is open, every caller may use every endpoint "
            "and see every batch"
        )
    else:
        log.info("API keys required; clients: %s", ", ".join(ring.clients))

    @app.before_request
    async def check_access() -> None:
        if request.path in PROBE_PATHS:
            return
        client = None
        if ring is not None and request.path not in DOC_PATHS:
            try:
                client = _authenticate(ring)
            except ApiError as refused:
                log.info(
                    "refused %s %r from %s: %s",  # %r: a path cannot forge log lines
                    request.method,
                    request.path,
                    request.remote_addr,
                    refused.details,
                )
                if limiter is not None:
                    _throttle(limiter, _address())
                raise
            g.client = client
        if limiter is not None:
            _throttle(limiter, requester())
