"""Encrypted payloads on the real stack: the API and a worker process with PAYLOAD_KEYS, the
tests reading the server's histories with no key at all, as the server itself holds them."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from api.app import create_app
from codec.aes_gcm import ENCODING, AesGcmCodec
from codec.keys import PayloadKeyError, new_key, parse_payload_keys
from contracts.ids import batch_workflow_id, essay_workflow_id
from settings import Settings, SettingsError, load_settings
from temporal_client import data_converter
from tests.encryption.conftest import KEYS, settled
from tests.stack import Stack
from workflows.batch import BatchWorkflow
from workflows.chunk import ChunkWorkflow
from workflows.essay import EssayWorkflow


def raw_bytes(history: WorkflowHistory) -> bytes:
    """Every event as the server stores it: a payload in clear shows its JSON here verbatim."""
    return b"".join(event.SerializeToString() for event in history.events)


async def histories(client: Client, batch_id: str, essay_id: str) -> list[WorkflowHistory]:
    ids = [essay_workflow_id(essay_id), batch_workflow_id(batch_id)]
    ids += [w.id async for w in client.list_workflows(f'BatchId = "{batch_id}"')]
    return [await client.get_workflow_handle(i).fetch_history() for i in set(ids)]


async def test_no_essay_is_in_clear_in_a_history_and_the_api_still_reads_status(
    encrypted: Stack,
) -> None:
    secret = f"a pupil's essay, {uuid.uuid4().hex}"
    single = await encrypted.api.post("/v1/trigger-spellcheck", json={"text": secret})
    assert single.status_code == 202, single.text
    batch_id = f"enc-{uuid.uuid4().hex[:8]}"
    created = await encrypted.api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": [{"text": f"{secret} 1"}, {"text": f"{secret} 2"}]},
    )
    assert created.status_code == 202, created.text
    assert (await encrypted.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    essay_id = single.json()["essay_id"]
    await settled(encrypted, f"/v1/essays/{essay_id}/status", {"published"})
    batch = await settled(encrypted, f"/v1/batch/{batch_id}/status", {"completed"})
    assert batch["counts"]["published"] == 2

    found = await histories(encrypted.client, batch_id, essay_id)
    assert len(found) >= 3  # the essay, the batch's parent, its chunk
    for history in found:
        assert secret.encode() not in raw_bytes(history), history.workflow_id
    # The check can fail: the same text in clear is found by it.
    [clear] = await pydantic_data_converter.encode([secret])
    assert secret.encode() in clear.SerializeToString()
    # Memos, which the API reads, are encrypted too; ids and search attributes stay readable.
    described = await encrypted.client.get_workflow_handle(batch_workflow_id(batch_id)).describe()
    memo = described.raw_description.workflow_execution_info.memo.fields
    assert memo and all(p.metadata["encoding"] == ENCODING for p in memo.values())
    assert described.search_attributes["BatchId"] == [batch_id]


async def test_recorded_histories_replay_with_the_keys_and_not_without(encrypted: Stack) -> None:
    response = await encrypted.api.post("/v1/trigger-spellcheck", json={"text": "Helo wrold"})
    essay_id = response.json()["essay_id"]
    await settled(encrypted, f"/v1/essays/{essay_id}/status", {"published"})
    handle = encrypted.client.get_workflow_handle(essay_workflow_id(essay_id))
    history = await handle.fetch_history()
    workflows = [EssayWorkflow, BatchWorkflow, ChunkWorkflow]
    with_keys = Replayer(workflows=workflows, data_converter=data_converter(encrypted.settings))
    await with_keys.replay_workflow(history)
    without = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    result = await without.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


async def test_a_payload_under_an_old_key_decodes_after_rotation() -> None:
    old, new = f"k0:{new_key()}", f"k1:{new_key()}"
    [written] = await AesGcmCodec(parse_payload_keys(old)).encode([Payload(data=b"essay")])
    rotated = AesGcmCodec(parse_payload_keys(f"{new},{old}"))
    [read] = await rotated.decode([written])
    assert read.data == b"essay"
    [rewritten] = await rotated.encode([read])
    assert rewritten.metadata["encryption-key-id"] == b"k1"  # the first key writes
    with pytest.raises(PayloadKeyError, match="'k0'"):
        await AesGcmCodec(parse_payload_keys(new)).decode([written])  # the old key dropped


async def test_a_payload_in_clear_from_before_encryption_passes_unchanged() -> None:
    clear = Payload(metadata={"encoding": b"json/plain"}, data=b'"old"')
    [read] = await AesGcmCodec(parse_payload_keys(KEYS)).decode([clear])
    assert read == clear


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("k1:short", "not base64|32 bytes"),
        (f"k1:{new_key()},k1:{new_key()}", "listed twice"),
        (f"bad id:{new_key()}", "the id must be"),
    ],
)
def test_bad_payload_keys_stop_start_up_naming_the_entry(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(payload_keys=raw)


def test_keys_are_never_quoted_in_start_up_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv("PAYLOAD_KEYS", f"k1:{key[:-4]}")
    with pytest.raises(SettingsError, match="PAYLOAD_KEYS") as error:
        load_settings()
    assert key[:-4] not in str(error.value)


async def test_an_api_without_the_keys_says_so_in_words_not_a_500(
    encrypted: Stack, dev_env
) -> None:
    answer = await encrypted.api.post("/v1/trigger-spellcheck", json={"text": "Helo wrold"})
    essay_id = answer.json()["essay_id"]
    await settled(encrypted, f"/v1/essays/{essay_id}/status", {"published"})
    # An API given no PAYLOAD_KEYS, on the same namespace: an operator's slip.
    keyless = create_app(temporal_client=dev_env.client, settings=Settings())
    async with keyless.test_app() as app:
        status = await app.test_client().get(f"/v1/essays/{essay_id}/status")
        body = await status.get_json()
    assert status.status_code == 503, body
    assert status.headers["Retry-After"]
    assert "cannot read its records" in body["details"]
