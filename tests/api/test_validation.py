"""Every bad request gets the right 4xx and a JSON `{"error", "details"}` body."""

import json

import pytest
from quart.typing import TestClientProtocol as ApiClient

from api.http.errors import service_unavailable

URL = "/v1/trigger-spellcheck"
JSON = {"Content-Type": "application/json"}


async def post_raw(api: ApiClient, data: bytes, headers=JSON):
    return await api.post(URL, data=data, headers=headers)


def assert_error(body: dict, status_error: str | None = None) -> None:
    assert set(body) == {"error", "details"}
    if status_error:
        assert body["error"] == status_error


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "  \n\t "}, "text"),
        ({"text": 42}, "text"),
        ({"text": ["a"]}, "text"),
        ({"text": None}, "text"),
        ({"text": "ok", "essay_id": "has space"}, "essay_id"),
        ({"text": "ok", "essay_id": "x" * 65}, "essay_id"),
        ({"text": "ok", "essay_id": "../etc"}, "essay_id"),
        ({"text": "ok", "essay_id": 7}, "essay_id"),
        ({"text": "ok", "txet": "typo"}, "txet"),
    ],
)
async def test_validation_failures_name_the_field(
    api: ApiClient, payload: dict, field: str
) -> None:
    response = await post_raw(api, json.dumps(payload).encode())
    assert response.status_code == 400
    body = await response.get_json()
    assert_error(body, "Validation failed")
    assert field in {d["field"] for d in body["details"]}


@pytest.mark.parametrize(
    "data", [b"{bad", b"", b'{"text": "a"', b"\xff\xfe{}", b"[1, 2]", b'"text"', b"null"]
)
async def test_malformed_bodies_are_400(api: ApiClient, data: bytes) -> None:
    response = await post_raw(api, data)
    assert response.status_code == 400
    assert_error(await response.get_json())


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_non_json_content_type_is_415(api: ApiClient, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await post_raw(api, b'{"text": "hi"}', headers=headers)
    assert response.status_code == 415
    assert_error(await response.get_json(), "Unsupported media type")


async def test_body_over_the_limit_is_413(api: ApiClient) -> None:
    too_big = json.dumps({"text": "a" * (1_048_576 + 1)}).encode()
    response = await post_raw(api, too_big)
    assert response.status_code == 413
    assert_error(await response.get_json())


async def test_unknown_route_is_404_and_wrong_method_405(api: ApiClient) -> None:
    missing = await api.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert_error(await missing.get_json())
    wrong = await api.get(URL)
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["Allow"]
    assert_error(await wrong.get_json())


async def test_status_of_a_bad_or_unknown_essay_id(api: ApiClient) -> None:
    bad = await api.get("/v1/essays/bad%20id/status")
    assert bad.status_code == 400
    assert_error(await bad.get_json(), "Validation failed")
    unknown = await api.get("/v1/essays/never-submitted/status")
    assert unknown.status_code == 404
    assert_error(await unknown.get_json())


async def test_bad_idempotency_key_is_400(api: ApiClient) -> None:
    response = await post_raw(
        api, b'{"text": "hi"}', headers={**JSON, "Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 400
    assert (await response.get_json())["details"][0]["field"] == "Idempotency-Key"


async def test_a_batch_essay_that_cannot_fit_what_is_sent_is_413_and_nothing_is_made(
    api: ApiClient,
) -> None:
    # Under every raw-byte limit, but six times larger as JSON (each character is \u0001):
    # what is sent to Temporal is what must fit.
    text = "\x01" * (384 * 1024 - 1)
    batch_id = "escaped-controls"
    response = await api.post("/v1/batch", json={"batch_id": batch_id, "essays": [{"text": text}]})
    assert response.status_code == 413, await response.get_data()
    body = await response.get_json()
    assert_error(body, "Request entity too large")
    assert "essays[0]" in body["details"]
    assert (await api.get(f"/v1/batch/{batch_id}/status")).status_code == 404


def test_a_503_says_when_to_ask_again() -> None:
    error = service_unavailable("busy")
    assert (error.status, error.headers) == (503, {"Retry-After": "2"})
