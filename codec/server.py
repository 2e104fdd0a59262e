"""The codec endpoint: the Temporal UI (and `temporal --codec-endpoint`) sends it payloads as
the server holds them and shows what comes back, so an operator can read inputs, results and
memos that are encrypted everywhere else.

Temporal's codec protocol: `POST /decode` and `POST /encode` with `{"payloads": [...]}`
(payloads in protobuf's JSON form), answered in the same form. It is an operator's tool: a
request needs `Authorization: Bearer <CODEC_TOKEN>`, a credential of its own that no API key
can be; without one it serves only on a loopback address (`make dev`). Browsers may call it
from `CODEC_CORS_ORIGINS`, where the UI is served.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from codec.aes_gcm import AesGcmCodec
from settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALLOWED_HEADERS = "Content-Type, Authorization, X-Namespace"


class CodecConfigError(ValueError):
    """The endpoint cannot be served as configured."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_config(settings: Settings) -> None:
    keys = settings.payload_key_list()
    if not keys:
        raise CodecConfigError("PAYLOAD_KEYS is not set: there is nothing to decode")
    token = settings.codec_token.get_secret_value() if settings.codec_token else None
    if token is None and not _is_loopback(settings.codec_host):
        raise CodecConfigError(
            f"CODEC_TOKEN is not set: the codec endpoint serves on {settings.codec_host} only "
            "with an operator's token (without one, only on a loopback address)"
        )
    ring = settings.key_ring()
    if token is not None and ring is not None and ring.identify(token) is not None:
        raise CodecConfigError("CODEC_TOKEN must not be an API client's key")


def create_app(settings: Settings) -> web.Application:
    check_config(settings)
    codec = AesGcmCodec(settings.payload_key_list())
    token = settings.codec_token.get_secret_value() if settings.codec_token else None
    origins = {o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()}

    @web.middleware
    async def cors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        cors = {}
        if origin in origins:
            cors = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin",
            }
        if request.method == "OPTIONS":  # a browser's preflight: no credential is sent with it
            preflight = {
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            }
            return web.Response(status=204, headers={**cors, **preflight} if cors else {})
        if token is not None and not _bearer_matches(request, token):
            return web.json_response(
                {
                    "error": "Unauthorized",
                    "details": "the codec endpoint takes the operator's token",
                },
                status=401,
                headers={**cors, "WWW-Authenticate": 'Bearer realm="codec"'},
            )
        response = await handler(request)
        response.headers.update(cors)
        return response

    async def transform(
        request: web.Request, apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
    ) -> web.Response:
        try:
            payloads = json_format.Parse(await request.text(), Payloads())
        except json_format.ParseError as exc:
            return web.json_response({"error": "Bad request", "details": str(exc)}, status=400)
        try:
            result = await apply(list(payloads.payloads))
        except ValueError as exc:  # a payload under a key not held here, or tampered with
            return web.json_response({"error": "Cannot decode", "details": str(exc)}, status=422)
        body = json_format.MessageToJson(Payloads(payloads=result))
        return web.Response(text=body, content_type="application/json")

    async def decode(request: web.Request) -> web.Response:
        return await transform(request, codec.decode)

    async def encode(request: web.Request) -> web.Response:
        return await transform(request, codec.encode)

    # A chunk's input (its texts) is one payload of up to a few MB, base64 in JSON.
    app = web.Application(middlewares=[cors_and_auth], client_max_size=16 * 1024 * 1024)
    app.router.add_post("/decode", decode)
    app.router.add_post("/encode", encode)
    app.router.add_route("OPTIONS", "/{path:.*}", _preflight)
    return app


async def _preflight(_: web.Request) -> web.Response:
    return web.Response(status=204)  # answered by the middleware; a route so it is not a 405


def _bearer_matches(request: web.Request, token: str) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), token.encode())
