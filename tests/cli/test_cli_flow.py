"""`batch-service` end to end: essays from a folder to events on the topic, on the real stack
(dev server, broker, content store, worker, API under hypercorn)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from batch_cli.api_client import ApiClient
from batch_cli.events import batch_events
from tests.cli.runner import CLI_TIMEOUT_S, run_cli, run_script, start_script
from tests.helpers import TopicReader, wait_until
from tests.stack import Stack

EVENT_TIMEOUT_S = 30


def batch_id() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


async def events_for(stack: Stack, keys: set[str]) -> dict[str, dict]:
    """The first event of each of these essay ids, read from the stack's (shared) topic."""
    wanted = {k.encode() for k in keys}
    async with TopicReader(stack.settings.kafka_bootstrap_servers, stack.settings.kafka_topic) as r:
        found = await r.read_keys(wanted, timeout_s=EVENT_TIMEOUT_S)
    return {key.decode(): found[key].body for key in wanted}


async def api_status(stack: Stack, batch: str) -> dict:
    response = await stack.api.get(f"/v1/batch/{batch}/status")
    assert response.status_code == 200, response.text
    return response.json()


async def test_submit_sends_a_folder_as_a_batch_and_every_essay_is_published(
    stack: Stack, api_url: str, essay_folder: Callable[..., Path]
) -> None:
    files = {
        f"student {n:02d}.txt": f"Essay {n}: helo wrold, it was a nice day.\n" for n in range(9)
    }
    files |= {
        "Åsa Öberg.txt": 'Åsa skriver: ünïcode, emoji 🙂 and "quotes"\n',
        "Anna-Berg.txt": "Anna's first essay\n",
        "Anna Berg.txt": "Anna's second essay\n",
        "notes.md": "not an essay",
    }
    folder = essay_folder(files)
    batch = batch_id()

    # The installed script, configured through the environment, in pages of five essays.
    ran = await run_script(
        "submit", str(folder), "--batch-id", batch, "--page-essays", "5", "--interval", "0.2",
        env={"BATCH_SERVICE_URL": api_url},
    )  # fmt: skip

    assert ran.exit_code == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert "Not sent (not .txt): notes.md" in ran.stdout
    assert f"Batch {batch} completed" in ran.stdout
    assert "12 of 12 published" in ran.stdout
    expected_ids = {f"student-{n:02d}" for n in range(9)} | {
        "Asa-Oberg",
        "Anna-Berg",
        "Anna-Berg-2",
    }
    events = await events_for(stack, expected_ids)
    assert {e["entity_ref"]["parent_id"] for e in events.values()} == {batch}
    # Sorted file names: "Anna Berg.txt" comes before "Anna-Berg.txt" and keeps the plain id.
    texts = {"Anna-Berg": files["Anna Berg.txt"], "Asa-Oberg": files["Åsa Öberg.txt"]}
    async with httpx.AsyncClient() as http:
        for essay_id, text in texts.items():
            storage_id = events[essay_id]["text_storage_id"]
            stored = await http.get(f"{stack.settings.content_service_url}/{storage_id}")
            assert stored.content == text.encode()

    status = await api_status(stack, batch)
    assert status["state"] == "completed"
    assert status["counts"]["published"] == status["counts"]["total"] == 12

    shown = await run_cli("status", batch, "--api-url", api_url)
    assert shown.exit_code == 0, shown.stderr
    view = " ".join(shown.stdout.split())  # the view wraps at the width of no terminal
    assert "State completed" in view
    assert "12 total: 0 received, 0 stored, 12 published, 0 failed, 0 cancelled" in view
    as_json = await run_cli("status", batch, "--json", "--api-url", api_url)
    assert as_json.exit_code == 0
    answer = json.loads(as_json.stdout)
    assert answer["counts"] == status["counts"]
    assert answer["state"] == "completed"
    assert answer["essays"]["total"] == 12


async def test_submit_halves_a_page_the_api_refuses_as_too_large(
    stack: Stack, api_url: str, essay_folder: Callable[..., Path]
) -> None:
    """Told the API takes 501 essays per request, the tool sends 501; the API (500) answers
    413, and the tool sends the page again as two halves."""
    count = 501
    folder = essay_folder({f"e{n:03d}.txt": f"Essay number {n}.\n" for n in range(count)})
    batch = batch_id()

    ran = await run_cli("submit", str(folder), "--batch-id", batch, "--page-essays", str(count),
                        "--interval", "0.2", "--api-url", api_url)  # fmt: skip

    assert ran.exit_code == 0, ran.stderr
    assert f"{count} of {count} published" in ran.stdout
    events = await events_for(stack, {f"e{n:03d}" for n in range(count)})
    assert {e["entity_ref"]["parent_id"] for e in events.values()} == {batch}


async def test_no_trigger_waits_for_storing_and_a_rerun_triggers_the_same_batch(
    stack: Stack, api_url: str, essay_folder: Callable[..., Path]
) -> None:
    folder = essay_folder({f"pupil-{n}.txt": f"Pupil {n} writes.\n" for n in range(6)})
    batch = batch_id()
    common = ("--batch-id", batch, "--interval", "0.2", "--api-url", api_url)

    stored = await run_cli("submit", str(folder), "--no-trigger", *common)
    assert stored.exit_code == 0, stored.stderr
    assert "6 of 6 texts stored, not triggered" in stored.stdout

    # The tool saw `ready` in the batch's events; a status poll may still get, for a moment,
    # the copy of the first page that the create left (api/status_cache.py).
    async def ready() -> dict | None:
        status = await api_status(stack, batch)
        return status if status["state"] == "ready" else None

    status = await wait_until(
        ready, timeout_s=stack.settings.status_max_age_s + 5, what="the status to say ready"
    )
    assert status["triggered_at"] is None

    # Ctrl-C while watching stops the watching, not the batch, and says how to resume.
    watcher = await start_script("status", batch, "--watch", "--api-url", api_url)
    assert watcher.stdout is not None and watcher.stderr is not None
    first = await asyncio.wait_for(watcher.stdout.readline(), CLI_TIMEOUT_S)
    assert f"{batch} ready: 6/6 stored, 0 published, backlog 6" in first.decode()
    watcher.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(watcher.wait(), CLI_TIMEOUT_S) == 130
    said = (await watcher.stderr.read()).decode()
    assert f"stopped following batch {batch}; the batch itself goes on" in said
    assert f"batch-service status {batch} --watch" in said
    assert "Traceback" not in said

    # The same command again: its page is recognised (no duplicate essays), then it triggers.
    triggered = await run_cli("submit", str(folder), "--no-wait", *common)
    assert triggered.exit_code == 0, triggered.stderr
    assert f"Batch {batch} triggered" in triggered.stdout
    assert f"batch-service status {batch} --watch" in triggered.stdout

    watched = await run_cli("status", batch, "--watch", "--interval", "0.2", "--api-url", api_url)
    assert watched.exit_code == 0, watched.stderr
    assert f"{batch} completed: 6/6 stored, 6 published" in watched.stdout
    await events_for(stack, {f"pupil-{n}" for n in range(6)})
    assert (await api_status(stack, batch))["counts"]["total"] == 6


async def test_a_cancelled_batch_ends_with_exit_code_4_and_its_essays_listed(
    stack: Stack, api_url: str, essay_folder: Callable[..., Path]
) -> None:
    folder = essay_folder({"kim.txt": "Kim's essay.\n", "lee.txt": "Lee's essay.\n"})
    batch = batch_id()
    common = ("--batch-id", batch, "--no-trigger", "--interval", "0.2", "--api-url", api_url)
    sent = await run_cli("submit", str(folder), "--no-wait", *common)
    assert sent.exit_code == 0, sent.stderr
    assert f"Batch {batch} sent, not triggered" in sent.stdout
    cancelled = await stack.api.post(f"/v1/batch/{batch}/cancel")
    assert cancelled.status_code == 202, cancelled.text

    watched = await run_cli("status", batch, "--watch", "--interval", "0.2", "--api-url", api_url)
    assert watched.exit_code == 4, watched.stdout + watched.stderr
    assert f"{batch} cancelled:" in watched.stdout

    # A re-run finds the batch closed: nothing is sent again, and the summary names the essays.
    again = await run_cli("submit", str(folder), *common)
    assert again.exit_code == 4, again.stdout + again.stderr
    assert f"Batch {batch} cancelled after" in again.stdout
    assert "0 of 2 published, 2 cancelled." in again.stdout
    listed = [line.replace("│", " ").split() for line in again.stdout.splitlines()]
    assert ["kim", "cancelled"] in listed
    assert ["lee", "cancelled"] in listed


async def test_trigger_sends_one_essay_and_essay_shows_it(
    stack: Stack, api_url: str, tmp_path: Path
) -> None:
    essay_file = tmp_path / "single.txt"
    essay_file.write_text("Helo wrold from a file.\n")
    essay_id = f"cli-single-{uuid.uuid4().hex[:8]}"

    ran = await run_cli("trigger", str(essay_file), "--essay-id", essay_id, "--api-url", api_url)
    assert ran.exit_code == 0, ran.stderr
    assert f"essay id:       {essay_id}" in ran.stdout
    correlation_id = ran.stdout.split("correlation id: ")[1].split()[0]
    from_text = await run_cli("trigger", "--text", "Helo wrold, typed.", "--json",
                              "--api-url", api_url)  # fmt: skip
    assert from_text.exit_code == 0, from_text.stderr
    generated = json.loads(from_text.stdout)["essay_id"]

    events = await events_for(stack, {essay_id, generated})
    assert events[essay_id]["system_metadata"]["correlation_id"] == correlation_id

    async def published() -> bool:
        response = await stack.api.get(f"/v1/essays/{essay_id}/status")
        return response.json().get("state") == "published"

    await wait_until(published, timeout_s=EVENT_TIMEOUT_S, what=f"essay {essay_id} published")
    shown = await run_cli("essay", essay_id, "--api-url", api_url)
    assert shown.exit_code == 0, shown.stderr
    assert "published" in shown.stdout
    assert events[essay_id]["text_storage_id"] in shown.stdout

    # The same id with another text is the API's 409, shown with its message.
    conflict = await run_cli("trigger", "--text", "Other", "--essay-id", essay_id,
                             "--api-url", api_url)  # fmt: skip
    assert conflict.exit_code == 1
    assert "409 Conflict" in conflict.stderr
    assert "different text" in conflict.stderr


async def test_errors_are_one_message_and_an_exit_code(
    api_url: str, essay_folder: Callable[..., Path], tmp_path: Path
) -> None:
    async def fails(code: int, *args: str, says: str) -> None:
        ran = await run_cli(*args)
        assert ran.exit_code == code, (args, ran.stdout, ran.stderr)
        assert ran.stderr.startswith("error: "), ran.stderr
        assert says in ran.stderr, ran.stderr
        assert "Traceback" not in ran.stdout + ran.stderr

    # The API's 4xx answers, with its error and details.
    await fails(1, "status", "no-such-batch", "--api-url", api_url, says="404 Not Found")
    await fails(1, "status", "bad id!", "--api-url", api_url, says="batch_id must be 1 to 64")
    await fails(1, "essay", "no-such-essay", "--api-url", api_url, says="no essay with id")
    await fails(1, "trigger", "--text", "   ", "--api-url", api_url, says="not white space")
    await fails(1, "submit", str(essay_folder({"a.txt": "x"})), "--batch-id", "bad id!",
                "--api-url", api_url, says="batch_id")  # fmt: skip

    # Bad input, found before anything is sent.
    await fails(2, "submit", str(essay_folder({"notes.md": "x"}, "empty")), "--api-url", api_url,
                says="no .txt essays")  # fmt: skip
    not_utf8 = essay_folder({"good.txt": "fine", "latin1.txt": "café".encode("latin-1"),
                             "blank.txt": " \n"}, "mixed")  # fmt: skip
    await fails(2, "submit", str(not_utf8), "--api-url", api_url, says="2 of 3 essay files")
    await fails(2, "submit", str(not_utf8), "--api-url", api_url, says="latin1.txt is not UTF-8")
    await fails(2, "submit", str(tmp_path / "missing"), says="no such file or folder")
    await fails(2, "trigger", "--api-url", api_url, says="either as a FILE or with --text")
    await fails(2, "status", "b", "--api-url", "localhost:5000", says="http:// or https://")


async def test_an_unreachable_api_is_exit_code_3(stack: Stack) -> None:
    from devstack.components import free_port

    ran = await run_script(
        "status", "any-batch", env={"BATCH_SERVICE_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert ran.exit_code == 3
    assert "cannot reach the API at http://127.0.0.1:" in ran.stderr
    assert "BATCH_SERVICE_URL" in ran.stderr  # the hint says how to point it elsewhere
    assert "Traceback" not in ran.stderr


async def test_submit_follows_the_batchs_event_stream_to_its_end(
    stack: Stack, api_url: str, essay_folder: Callable[..., Path]
) -> None:
    folder = essay_folder({"kim.txt": "Kim writes.\n", "lee.txt": "Lee writes.\n"})
    batch = batch_id()

    ran = await run_cli("submit", str(folder), "--batch-id", batch, "--api-url", api_url)

    assert ran.exit_code == 0, ran.stderr
    bars = {
        line.split()[0]: done.group(0)
        for line in ran.stdout.splitlines()
        if (done := re.search(r"\b\d+/\d+\b", line))
    }
    assert bars == {"sent": "2/2", "stored": "2/2", "published": "2/2", "spellchecked": "0/2"}
    # (No spell checker answers here: nothing gets past published.)
    assert f"Batch {batch} completed after" in ran.stdout

    # The stream the bars follow, read again once the batch is final: its final event alone.
    def follow() -> list[dict]:
        with ApiClient(api_url) as client:
            return list(batch_events(client, batch))

    statuses = await asyncio.wait_for(asyncio.to_thread(follow), CLI_TIMEOUT_S)
    assert [(s["state"], s["final"]) for s in statuses] == [("completed", True)]
    assert statuses[0]["counts"]["published"] == 2
