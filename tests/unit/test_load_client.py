"""The benchmarks' HTTP client against a real HTTP server on loopback (aiohttp's): bodies and
headers arrive as sent, connections are reused, a closing server and a timeout cost only that
request, and a refused connection is an error the load generator can count."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from bench.http_client import LoadClient


@pytest.fixture
async def server():
    peers: list[int] = []  # the client port of every request, to count connections
    never = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response(
            {
                "body": await request.text(),
                "type": request.headers.get("Content-Type"),
                "key": request.headers.get("Idempotency-Key"),
                "query": request.query_string,
            },
            status=202,
        )

    async def closing(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.Response(text="bye", headers={"Connection": "close"})

    async def hanging(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.add_routes(
        [
            web.post("/echo", echo),
            web.get("/echo", echo),
            web.get("/close", closing),
            web.get("/hang", hanging),
        ]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", peers
    never.set()
    await runner.cleanup()


@pytest.fixture
async def client():
    http = LoadClient(max_connections=4)
    yield http
    await http.close()


async def test_json_and_headers_arrive_and_the_connection_is_kept(server, client):
    base, peers = server
    first = await client.post(f"{base}/echo", json={"text": "ä"}, headers={"Idempotency-Key": "k"})
    second = await client.get(f"{base}/echo?page=2")

    assert first.status == 202
    assert first.json() == {
        "body": '{"text": "\\u00e4"}',
        "type": "application/json",
        "key": "k",
        "query": "",
    }
    assert second.json()["query"] == "page=2"
    assert peers[0] == peers[1]  # one connection for both


async def test_a_server_that_closes_costs_no_request(server, client):
    base, peers = server
    closed = await client.get(f"{base}/close")
    after = await client.post(f"{base}/echo", body=b"raw", headers={"Content-Type": "text/plain"})

    assert (closed.status, closed.text) == (200, "bye")
    assert (after.status, after.json()["body"]) == (202, "raw")
    assert peers[0] != peers[1]  # a new connection after the server's close


async def test_a_timeout_fails_only_its_own_request(server, client):
    base, _ = server
    with pytest.raises(TimeoutError):
        await client.get(f"{base}/hang", timeout_s=0.2)
    assert (await client.get(f"{base}/echo")).status == 202


async def test_a_refused_connection_is_an_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = LoadClient(max_connections=1)
    try:
        with pytest.raises(OSError):
            await http.get(f"http://127.0.0.1:{port}/")
    finally:
        await http.close()
