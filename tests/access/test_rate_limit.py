"""Rate limits on the real API and dev server: per client, per address while open."""

from collections.abc import Callable

from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from tests.access.conftest import API_KEYS, BOB, bearer

STATUS = "/v1/batch/nope/status"


async def test_open_api_limits_each_address_and_never_the_probes(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    # 0.01 per second: no token comes back during the test, however slow the machine.
    settings = make_settings(rate_limit_per_s=0.01, rate_limit_burst=3)
    async with create_app(temporal_client=dev_env.client, settings=settings).test_app() as app:
        api = app.test_client()
        assert [(await api.get(STATUS)).status_code for _ in range(3)] == [404] * 3
        limited = await api.get(STATUS)
        assert limited.status_code == 429
        body = await limited.get_json()
        assert set(body) == {"error", "details"} and "retry after 100 s" in body["details"]
        assert limited.headers["Retry-After"] == "100"
        assert (await api.post("/v1/trigger-spellcheck", json={"text": "t"})).status_code == 429
        assert (await api.get("/healthz")).status_code == 200
        assert (await api.get("/readyz")).status_code == 200


async def test_refused_keys_use_up_their_addresss_tokens(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(api_keys=API_KEYS, rate_limit_per_s=0.01, rate_limit_burst=2)
    async with create_app(temporal_client=dev_env.client, settings=settings).test_app() as app:
        api = app.test_client()
        guess = bearer("guess-0123456789abcdefgh")
        assert [(await api.get(STATUS, headers=guess)).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]
        # A client with a valid key has its own bucket, untouched by the guesses.
        assert (await api.get(STATUS, headers=bearer(BOB))).status_code == 404
