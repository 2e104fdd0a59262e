"""API keys on the real API and dev server: who may call, and whose batches and essays are whose."""

import logging
import uuid
from collections.abc import Callable

import pytest
from quart.typing import TestClientProtocol as ApiClient
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api_keys import fingerprint
from settings import Settings
from tests.access.conftest import ALICE_NEW, ALICE_OLD, ALL_KEYS, API_KEYS, BARE, BOB, bearer
from tests.helpers import wait_until

CHALLENGE = 'Bearer realm="huleedu-batch-service"'


def essays(*texts: str) -> list[dict]:
    return [{"text": t} for t in texts]


async def assert_401(response, invalid: bool) -> None:
    assert response.status_code == 401
    assert set(await response.get_json()) == {"error", "details"}
    expected = f'{CHALLENGE}, error="invalid_token"' if invalid else CHALLENGE
    assert response.headers["WWW-Authenticate"] == expected


async def test_probes_are_open_and_everything_else_needs_a_valid_key(keyed_api: ApiClient) -> None:
    assert (await keyed_api.get("/healthz")).status_code == 200
    assert (await keyed_api.get("/readyz")).status_code == 200

    missing = await keyed_api.post("/v1/trigger-spellcheck", json={"text": "t"})
    await assert_401(missing, invalid=False)
    assert missing.headers["X-Correlation-ID"]  # refused requests are traceable too
    await assert_401(await keyed_api.get("/v1/batch/any/status"), invalid=False)
    await assert_401(await keyed_api.get("/no/such/route"), invalid=False)

    wrong = "wrong-key-0123456789abcdef"
    await assert_401(await keyed_api.get("/v1/batch/any/status", headers=bearer(wrong)), True)
    await assert_401(
        await keyed_api.get("/v1/batch/any/status", headers={"X-API-Key": wrong}), True
    )
    basic = {"Authorization": "Basic YWxpY2U6cHc="}
    await assert_401(await keyed_api.get("/v1/batch/any/status", headers=basic), True)
    mixed = {**bearer(ALICE_OLD), "X-API-Key": BOB}
    await assert_401(await keyed_api.get("/v1/batch/any/status", headers=mixed), True)

    # A valid key gets past the door: an unknown batch is a 404, not a 401.
    for headers in (bearer(ALICE_OLD), {"X-API-Key": BOB}, {"authorization": f"bearer {BARE}"}):
        assert (await keyed_api.get("/v1/batch/any/status", headers=headers)).status_code == 404


async def test_rotated_keys_and_both_headers_are_one_client(keyed_api: ApiClient) -> None:
    batch_id = f"rot-{uuid.uuid4().hex[:8]}"
    created = await keyed_api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": essays("one")},
        headers=bearer(ALICE_OLD),
    )
    assert created.status_code == 202
    status = await keyed_api.get(f"/v1/batch/{batch_id}/status", headers={"X-API-Key": ALICE_NEW})
    assert status.status_code == 200
    assert (await status.get_json())["counts"]["total"] == 1


async def test_another_clients_batch_is_not_found_on_every_route(
    keyed_api: ApiClient, dev_env: WorkflowEnvironment
) -> None:
    batch_id = f"own-{uuid.uuid4().hex[:8]}"
    body = {"batch_id": batch_id, "essays": essays("Helo wrold", "Anuther")}
    alice = bearer(ALICE_OLD)
    assert (await keyed_api.post("/v1/batch", json=body, headers=alice)).status_code == 202
    unknown = await keyed_api.get("/v1/batch/never-made/status", headers=alice)

    for stranger in (bearer(BOB), bearer(BARE)):
        answers = [
            await keyed_api.get(f"/v1/batch/{batch_id}/status", headers=stranger),
            await keyed_api.post(
                f"/v1/batch/{batch_id}/essays", json={"essays": essays("x")}, headers=stranger
            ),
            await keyed_api.post(f"/v1/batch/{batch_id}/spellcheck", headers=stranger),
            await keyed_api.post(f"/v1/batch/{batch_id}/cancel", headers=stranger),
        ]
        assert [a.status_code for a in answers] == [404] * 4
        for answer in answers:
            assert (await answer.get_json())["error"] == (await unknown.get_json())["error"]
        # Ids are global: creating one under it is refused as "in use", and tells no more.
        taken = await keyed_api.post("/v1/batch", json=body, headers=stranger)
        assert taken.status_code == 409 and "in use" in (await taken.get_json())["details"]

    # Nothing the strangers sent touched the batch: still two essays, neither triggered nor
    # cancelled, and its owner can trigger it and see it complete.
    mine = await (await keyed_api.get(f"/v1/batch/{batch_id}/status", headers=alice)).get_json()
    assert mine["counts"]["total"] == 2 and mine["triggered_at"] is None
    assert mine["cancelled_at"] is None
    triggered = await keyed_api.post(f"/v1/batch/{batch_id}/spellcheck", headers=alice)
    assert triggered.status_code == 202

    async def completed():
        response = await keyed_api.get(f"/v1/batch/{batch_id}/status", headers=alice)
        return (await response.get_json())["state"] == "completed"

    await wait_until(completed, timeout_s=60, what=f"batch {batch_id} to complete")
    # Alice's answer is cached by the API now: a stranger still gets 404, not her copy.
    theirs = await keyed_api.get(f"/v1/batch/{batch_id}/status", headers=bearer(BOB))
    assert theirs.status_code == 404
    # Closed, it is still the owner's alone.
    assert (await keyed_api.post("/v1/batch", json=body, headers=bearer(BOB))).status_code == 409
    again = await keyed_api.post("/v1/batch", json=body, headers=alice)
    assert again.status_code == 202
    description = await dev_env.client.get_workflow_handle(f"batch-{batch_id}").describe()
    assert await description.memo_value("owner") == "alice"


async def test_essays_belong_to_their_client(keyed_api: ApiClient) -> None:
    essay_id = f"essay-{uuid.uuid4().hex[:8]}"
    post = {"text": "Helo wrold", "essay_id": essay_id}
    alice, bob = bearer(ALICE_NEW), bearer(BOB)
    assert (
        await keyed_api.post("/v1/trigger-spellcheck", json=post, headers=alice)
    ).status_code == 202
    assert (await keyed_api.get(f"/v1/essays/{essay_id}/status", headers=alice)).status_code == 200
    assert (await keyed_api.get(f"/v1/essays/{essay_id}/status", headers=bob)).status_code == 404
    # Taking the id over is refused (ids are global: 409, in use), and leaves the essay as it was.
    assert (
        await keyed_api.post("/v1/trigger-spellcheck", json=post, headers=bob)
    ).status_code == 409
    again = await keyed_api.post("/v1/trigger-spellcheck", json=post, headers=alice)
    assert again.status_code == 202


async def test_idempotency_keys_are_per_client(keyed_api: ApiClient) -> None:
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}

    async def essay_id(api_key: str) -> str:
        response = await keyed_api.post(
            "/v1/trigger-spellcheck", json={"text": "same"}, headers={**key, **bearer(api_key)}
        )
        assert response.status_code == 202
        return (await response.get_json())["essay_id"]

    async def batch_id(api_key: str) -> str:
        response = await keyed_api.post(
            "/v1/batch", json={"essays": essays("same")}, headers={**key, **bearer(api_key)}
        )
        assert response.status_code == 202
        return (await response.get_json())["batch_id"]

    assert await essay_id(ALICE_OLD) == await essay_id(ALICE_NEW) != await essay_id(BOB)
    assert await batch_id(ALICE_OLD) == await batch_id(ALICE_NEW) != await batch_id(BOB)


async def test_keys_never_reach_the_logs(
    dev_env: WorkflowEnvironment,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    worker: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-0123456789abcdef"
    app = create_app(temporal_client=dev_env.client, settings=make_settings(api_keys=API_KEYS))
    async with app.test_app() as test_app:
        api = test_app.test_client()
        for headers in (bearer(wrong), {"X-API-Key": wrong}, bearer(ALICE_OLD), bearer(BARE)):
            await api.post("/v1/trigger-spellcheck", json={"text": "t"}, headers=headers)
            await api.get("/v1/batch/nope/status", headers=headers)
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "refused POST '/v1/trigger-spellcheck'" in logged  # the refusals were logged...
    assert "alice" in logged and fingerprint(BARE) in logged  # ...and the clients named
    for secret in (*ALL_KEYS, wrong):
        assert secret not in logged  # ...but never a key


async def test_open_without_keys_and_says_so(
    dev_env: WorkflowEnvironment,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    app = create_app(temporal_client=dev_env.client, settings=make_settings())
    assert "API_KEYS is not set" in caplog.text
    async with app.test_app() as test_app:
        api = test_app.test_client()
        # Any header or none: the same answer, 404 for an unknown batch.
        assert (await api.get("/v1/batch/nope/status")).status_code == 404
        assert (await api.get("/v1/batch/nope/status", headers=bearer(BOB))).status_code == 404
