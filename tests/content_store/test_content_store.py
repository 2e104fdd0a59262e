"""The content store as a real HTTP server (the contract the activities rely on)."""

import uuid

import httpx

from tests.conftest import Server, content_url


async def test_round_trip_is_byte_exact(content_store: Server) -> None:
    text = "Hällo wörld\r\n\ttabs, emoji 🙂 and a NUL \x00 byte".encode()
    async with httpx.AsyncClient() as http:
        created = await http.post(content_url(content_store), content=text)
        assert created.status_code == 201
        storage_id = created.json()["storage_id"]
        assert len(storage_id) == 32 and int(storage_id, 16) >= 0
        fetched = await http.get(f"{content_url(content_store)}/{storage_id}")
    assert fetched.status_code == 200
    assert fetched.content == text


async def test_each_post_gets_a_new_id(content_store: Server) -> None:
    async with httpx.AsyncClient() as http:
        ids = {
            (await http.post(content_url(content_store), content=b"same")).json()["storage_id"]
            for _ in range(3)
        }
    assert len(ids) == 3


async def test_errors_are_json_with_the_right_status(content_store: Server) -> None:
    async with httpx.AsyncClient() as http:
        bad_id = await http.get(f"{content_url(content_store)}/not-hex")
        unknown = await http.get(f"{content_url(content_store)}/{'0' * 32}")
        empty = await http.post(content_url(content_store), content=b"")
    assert (bad_id.status_code, unknown.status_code, empty.status_code) == (400, 404, 400)
    for response in (bad_id, unknown, empty):
        assert set(response.json()) == {"error", "details"}


async def test_an_idempotency_key_stores_once(content_store: Server) -> None:
    url = content_url(content_store)
    key = {"Idempotency-Key": f"run-{uuid.uuid4()}/essay-1"}
    async with httpx.AsyncClient() as http:
        first = await http.post(url, content=b"same text", headers=key)
        again = await http.post(url, content=b"same text", headers=key)
        other_key = await http.post(
            url, content=b"same text", headers={"Idempotency-Key": f"run-{uuid.uuid4()}/e"}
        )
        reused = await http.post(url, content=b"another text", headers=key)
        bad = await http.post(url, content=b"x", headers={"Idempotency-Key": "has space"})
        stored = await http.get(f"{url}/{first.json()['storage_id']}")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert other_key.json()["storage_id"] != first.json()["storage_id"]
    assert (reused.status_code, bad.status_code) == (422, 400)
    assert set(reused.json()) == {"error", "details"}
    assert stored.content == b"same text"
