"""The codec endpoint as the Temporal UI and CLI use it: over HTTP, with the operator's token,
never an API client's key."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from codec.aes_gcm import AesGcmCodec
from codec.keys import new_key, parse_payload_keys
from codec.server import CodecConfigError, create_app
from contracts.ids import essay_workflow_id
from devstack.components import TEMPORAL_BIN
from settings import Settings
from tests.encryption.conftest import KEYS, settled
from tests.stack import Stack

TOKEN = "operator-token-0123456789abcdef"
CLIENT_KEY = "alice-key-0123456789abcdef"
UI = "http://127.0.0.1:8233"


def codec_settings(**values: object) -> Settings:
    return Settings(payload_keys=KEYS, codec_token=TOKEN, api_keys=f"alice:{CLIENT_KEY}", **values)


@pytest.fixture
async def endpoint() -> AsyncIterator[str]:
    server = TestServer(create_app(codec_settings()), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


def as_json(payload: Payload) -> dict:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def sealed(text: bytes) -> dict:
    [payload] = await AesGcmCodec(parse_payload_keys(KEYS)).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=text)]
    )
    return as_json(payload)


async def test_the_operator_reads_a_payload_with_the_token(endpoint: str) -> None:
    body = {"payloads": [await sealed(b'"Helo wrold"')]}
    async with httpx.AsyncClient(base_url=endpoint) as http:
        answer = await http.post("/decode", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    [payload] = answer.json()["payloads"]
    assert base64.b64decode(payload["data"]) == b'"Helo wrold"'


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {CLIENT_KEY}"}, {"X-API-Key": CLIENT_KEY}],
    ids=["no credential", "a client's key as bearer", "a client's key as X-API-Key"],
)
async def test_no_client_key_opens_the_codec_endpoint(endpoint: str, headers: dict) -> None:
    body = {"payloads": [await sealed(b'"Helo wrold"')]}
    async with httpx.AsyncClient(base_url=endpoint) as http:
        answer = await http.post("/decode", json=body, headers=headers)
    assert answer.status_code == 401
    assert "Helo" not in answer.text


async def test_the_ui_origin_may_call_it_and_others_may_not(endpoint: str) -> None:
    async with httpx.AsyncClient(base_url=endpoint) as http:
        allowed = await http.options("/decode", headers={"Origin": UI})
        other = await http.options("/decode", headers={"Origin": "http://evil.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == UI
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_a_payload_under_another_key_is_refused_in_words(endpoint: str) -> None:
    [foreign] = await AesGcmCodec(parse_payload_keys(f"k9:{new_key()}")).encode(
        [Payload(data=b"x")]
    )
    async with httpx.AsyncClient(base_url=endpoint) as http:
        answer = await http.post(
            "/decode",
            json={"payloads": [as_json(foreign)]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert answer.status_code == 422
    assert "'k9'" in answer.json()["details"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"codec_token": None, "codec_host": "0.0.0.0"}, "CODEC_TOKEN is not set"),
        ({"codec_token": SecretStr(CLIENT_KEY)}, "must not be an API client's key"),
        ({"payload_keys": None}, "PAYLOAD_KEYS is not set"),
    ],
)
def test_the_endpoint_refuses_to_serve_unsafely(values: dict, message: str) -> None:
    settings = codec_settings().model_copy(update=values)
    with pytest.raises(CodecConfigError, match=message):
        create_app(settings)


async def test_the_temporal_cli_shows_an_encrypted_history_through_the_endpoint(
    encrypted: Stack,
    endpoint: str,
) -> None:
    text = f"an essay only the operator reads, {uuid.uuid4().hex}"
    response = await encrypted.api.post("/v1/trigger-spellcheck", json={"text": text})
    essay_id = response.json()["essay_id"]
    await settled(encrypted, f"/v1/essays/{essay_id}/status", {"published"})

    async def show(*codec: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(TEMPORAL_BIN),
            "workflow",
            "show",
            "--address",
            encrypted.settings.temporal_address,
            "-w",
            essay_workflow_id(essay_id),
            "-o",
            "json",
            *codec,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        return out.decode()

    shown = await show("--codec-endpoint", endpoint, "--codec-auth", f"Bearer {TOKEN}")
    hidden = await show()
    assert text.encode() in payload_data(shown)
    assert text.encode() not in payload_data(hidden)


def payload_data(shown: str) -> bytes:
    """Every payload's `data` in a `temporal workflow show -o json` history, decoded."""
    found: list[bytes] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and "metadata" in node:
                found.append(base64.b64decode(node["data"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(shown))
    assert found, "no payloads in the history"
    return b"\n".join(found)
