"""What `make dev` runs with PAYLOAD_KEYS set: the codec endpoint as a sixth piece, on loopback,
and the Temporal UI pointed at it."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from codec.aes_gcm import AesGcmCodec
from codec.keys import new_key, parse_payload_keys
from devstack.components import free_port
from devstack.pieces import Config, Layout, build_pieces, start_piece

KEYS = f"dev:{new_key()}"


def dev_pieces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = Config.from_env(dict(env))
    layout = Layout(tmp_path, tmp_path / "logs", temporal_ui_port=cfg.temporal_ui_port)
    return {p.name: p for p in build_pieces(cfg.settings(), layout)}


def test_without_keys_there_is_no_codec_piece(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("PAYLOAD_KEYS", raising=False)
    pieces = dev_pieces(monkeypatch, tmp_path)
    assert "codec" not in pieces
    assert "--ui-codec-endpoint" not in pieces["temporal"].process.argv


async def test_with_keys_the_ui_reads_payloads_through_a_loopback_codec(
    monkeypatch, tmp_path
) -> None:
    port = free_port()
    pieces = dev_pieces(monkeypatch, tmp_path, PAYLOAD_KEYS=KEYS, CODEC_PORT=str(port))
    argv = pieces["temporal"].process.argv
    assert argv[argv.index("--ui-codec-endpoint") + 1] == f"http://127.0.0.1:{port}"
    codec = pieces["codec"]
    assert codec.process.env["PAYLOAD_KEYS"] == KEYS  # the worker and the API hold the same
    assert pieces["worker"].process.env["PAYLOAD_KEYS"] == KEYS
    await start_piece(codec)
    try:
        [sealed] = await AesGcmCodec(parse_payload_keys(KEYS)).encode([Payload(data=b'"x"')])
        body = {
            "payloads": [
                {
                    "metadata": {
                        k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()
                    },
                    "data": base64.b64encode(sealed.data).decode(),
                }
            ]
        }
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"http://127.0.0.1:{port}/decode", json=body)
    finally:
        codec.process.stop()
    assert answer.status_code == 200, answer.text
    assert base64.b64decode(answer.json()["payloads"][0]["data"]) == b'"x"'
