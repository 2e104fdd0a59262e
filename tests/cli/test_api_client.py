"""The HTTP client's own behaviour, one function at a time, against a scripted transport (the
real API cannot be made to answer 401 or 429 on this branch's settings, nor non-JSON)."""

from __future__ import annotations

import httpx
import pytest

from batch_cli.api_client import ApiClient
from batch_cli.errors import API_REFUSED, UNREACHABLE, ApiRefused, CliError


def client(handler, **kwargs) -> ApiClient:
    return ApiClient("http://api.test/", "s3cret-key", transport=httpx.MockTransport(handler),
                     **kwargs)  # fmt: skip


def test_the_key_goes_as_a_bearer_token_and_401_says_how_to_pass_one() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"error": "Unauthorized", "details": "unknown API key"})

    with pytest.raises(ApiRefused) as caught, client(handler) as api:
        api.get("/v1/batch/b/status")
    assert seen[0].headers["Authorization"] == "Bearer s3cret-key"
    assert caught.value.exit_code == API_REFUSED
    assert caught.value.message == "the API answered 401 Unauthorized: unknown API key"
    assert any(
        "--api-key" in hint and "BATCH_SERVICE_API_KEY" in hint for hint in caught.value.hints
    )


def test_field_errors_are_listed_one_per_line() -> None:
    details = [{"field": "essays.0.text", "message": "too long", "type": "value_error"}]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "Validation failed", "details": details})

    with pytest.raises(ApiRefused) as caught, client(handler) as api:
        api.post("/v1/batch", b"{}")
    assert (
        caught.value.message == "the API answered 400 Validation failed:\n  essays.0.text: too long"
    )


def test_429_and_503_are_retried_after_the_time_the_api_asks_for() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "x", "details": ""}),
            httpx.Response(503, json={"error": "Service unavailable", "details": "Temporal"}),
            httpx.Response(202, json={"batch_id": "b"}),
        ]
    )
    waits: list[float] = []
    with client(lambda request: next(answers), sleep=waits.append) as api:
        assert api.post("/v1/batch", b"{}") == {"batch_id": "b"}
    assert waits == [3.0, 1.0]  # Retry-After, then the second step of the backoff


def test_retries_stop_when_the_time_for_them_is_spent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "Service unavailable", "details": "Temporal"})

    with pytest.raises(ApiRefused) as caught, client(handler, retry_for_s=0) as api:
        api.get("/healthz")
    assert caught.value.status == 503
    assert any("--retry-for" in hint for hint in caught.value.hints)


def test_an_answer_that_is_not_the_apis_json_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>nginx</html>")

    with pytest.raises(ApiRefused) as caught, client(handler) as api:
        api.get("/v1/batch/b/status")
    assert "is --api-url the batch service?" in caught.value.message


def test_a_refused_connection_is_unreachable_at_once() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(CliError) as caught, client(handler, sleep=pytest.fail) as api:
        api.get("/healthz")
    assert caught.value.exit_code == UNREACHABLE
    assert len(calls) == 1
    assert "cannot reach the API at http://api.test" in caught.value.message
