"""Ids a client may choose can never reach another batch's workflows, nor another client's.

Batch and essay ids are global (events carry them to consumers that know no clients), so a
create under an id another client holds is a 409 "id in use"; what the workflows derive from
an id (a batch's chunks) lives where no client id can reach.
"""

import uuid

from quart.typing import TestClientProtocol as ApiClient
from temporalio.testing import WorkflowEnvironment

from contracts.ids import batch_workflow_id
from tests.access.conftest import ALICE_NEW, BOB, bearer
from tests.access.memo_workflow import ContinuesOnce
from tests.helpers import wait_until

ALICE, STRANGER = bearer(ALICE_NEW), bearer(BOB)


def essays(count: int, label: str) -> list[dict]:
    return [{"text": f"{label} essay {n}"} for n in range(count)]


async def status(api: ApiClient, batch_id: str, headers=ALICE) -> dict:
    response = await api.get(f"/v1/batch/{batch_id}/status", headers=headers)
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def until_state(api: ApiClient, batch_id: str, state: str, headers=ALICE) -> dict:
    async def reached():
        body = await status(api, batch_id, headers)
        return body if body["state"] == state else None

    return await wait_until(reached, timeout_s=60, what=f"batch {batch_id} to be {state}")


async def create(api: ApiClient, batch_id: str, count: int, headers=ALICE):
    return await api.post(
        "/v1/batch", json={"batch_id": batch_id, "essays": essays(count, batch_id)}, headers=headers
    )


async def test_a_batch_named_like_a_chunk_is_a_batch_of_its_own(keyed_api: ApiClient) -> None:
    victim = f"english-{uuid.uuid4().hex[:6]}"
    # The attacker's batch takes the id the victim's first chunk would have had, by another
    # client, so no shared owner check can hide the clash.
    assert (await create(keyed_api, f"{victim}-c1", 1, STRANGER)).status_code == 202
    assert (await create(keyed_api, victim, 2)).status_code == 202
    assert (
        await keyed_api.post(f"/v1/batch/{victim}/spellcheck", headers=ALICE)
    ).status_code == 202
    done = await until_state(keyed_api, victim, "completed")
    assert done["counts"]["published"] == 2
    assert [e["state"] for e in done["essays"]["items"]] == ["published", "published"]
    theirs = await status(keyed_api, f"{victim}-c1", STRANGER)
    assert (theirs["state"], theirs["counts"]["total"]) == ("ready", 1)


async def test_a_chunk_like_id_after_the_batch_is_no_500(keyed_api: ApiClient) -> None:
    victim = f"english-{uuid.uuid4().hex[:6]}"
    assert (await create(keyed_api, victim, 2)).status_code == 202
    for headers in (STRANGER, ALICE):
        clash = f"{victim}-c1" if headers is STRANGER else f"{victim}-c2"
        assert (await create(keyed_api, clash, 1, headers)).status_code == 202
        cancelled = await keyed_api.post(f"/v1/batch/{clash}/cancel", headers=headers)
        assert cancelled.status_code == 202, await cancelled.get_data()
    assert (
        await keyed_api.post(f"/v1/batch/{victim}/spellcheck", headers=ALICE)
    ).status_code == 202
    assert (await until_state(keyed_api, victim, "completed"))["counts"]["published"] == 2


async def test_a_create_under_another_clients_id_is_409_id_in_use(keyed_api: ApiClient) -> None:
    batch_id = f"taken-{uuid.uuid4().hex[:6]}"
    assert (await create(keyed_api, batch_id, 1)).status_code == 202
    refused = await create(keyed_api, batch_id, 1, STRANGER)
    assert refused.status_code == 409
    body = await refused.get_json()
    assert body["error"] == "Conflict" and "in use" in body["details"]
    # Seeing or changing it is still not theirs: as if it did not exist.
    assert (
        await keyed_api.get(f"/v1/batch/{batch_id}/status", headers=STRANGER)
    ).status_code == 404
    cancel = await keyed_api.post(f"/v1/batch/{batch_id}/cancel", headers=STRANGER)
    assert cancel.status_code == 404
    mine = await status(keyed_api, batch_id)
    assert mine["state"] in ("storing", "ready") and mine["counts"]["total"] == 1

    essay = {"text": "Helo wrold", "essay_id": f"taken-{uuid.uuid4().hex[:6]}"}
    assert (
        await keyed_api.post("/v1/trigger-spellcheck", json=essay, headers=ALICE)
    ).status_code == 202
    taken = await keyed_api.post("/v1/trigger-spellcheck", json=essay, headers=STRANGER)
    assert taken.status_code == 409
    assert "in use" in (await taken.get_json())["details"]


async def test_a_workflow_of_another_type_under_a_batch_id_is_not_a_batch(
    keyed_api: ApiClient, dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    # An operator's (or anyone's) workflow that happens to hold a batch's workflow id.
    batch_id = f"other-{uuid.uuid4().hex[:6]}"
    await dev_env.client.start_workflow(
        ContinuesOnce.run, True, id=batch_workflow_id(batch_id), task_queue=task_queue
    )
    assert (await keyed_api.get(f"/v1/batch/{batch_id}/status", headers=ALICE)).status_code == 404
    for path in ("spellcheck", "cancel"):
        answer = await keyed_api.post(f"/v1/batch/{batch_id}/{path}", headers=ALICE)
        assert answer.status_code == 404, await answer.get_data()
    created = await create(keyed_api, batch_id, 1)
    assert created.status_code == 409, await created.get_data()
    page = await keyed_api.post(
        f"/v1/batch/{batch_id}/essays", json={"essays": essays(1, "p")}, headers=ALICE
    )
    assert page.status_code == 404, await page.get_data()
