"""Sending a batch: the first page creates it, the others are added, then it is triggered.

Every step is safe to repeat, which is what makes an interrupted submit resumable: re-running
the same command with `--batch-id` sends the same pages (the API recognises those it has) and
finds the batch triggered already if it was.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable

from batch_cli.api_client import ApiClient, path_part
from batch_cli.errors import API_REFUSED, INTERRUPTED, ApiRefused, CliError
from batch_cli.essay_files import Essay
from batch_cli.pages import page_body


def upload(
    client: ApiClient,
    pages: list[list[Essay]],
    batch_id: str | None,
    on_sent: Callable[[int], None],
    on_created: Callable[[str], None],
) -> str:
    """Send every page and return the batch id. A page the API finds too large (413: its limits
    are smaller than ours) is halved and both halves are sent instead."""
    # Without a batch id the API makes one; the key makes a retried create find the same batch.
    create_headers = {} if batch_id else {"Idempotency-Key": f"batch-service-{uuid.uuid4()}"}
    total = sum(len(page) for page in pages)
    pending = deque(pages)
    created = False
    sent = 0
    while pending:
        page = pending.popleft()
        try:
            if not created:
                answer = client.post("/v1/batch", page_body(page, batch_id), create_headers)
                batch_id = str(answer["batch_id"])
                created = True
                on_created(batch_id)
            else:
                assert batch_id is not None
                answer = client.post(f"/v1/batch/{path_part(batch_id)}/essays", page_body(page))
        except CliError as exc:
            if isinstance(exc, ApiRefused) and exc.status == 413 and len(page) > 1:
                half = len(page) // 2
                pending.extendleft([page[half:], page[:half]])
                continue
            if created:
                _add_resume_hint(exc, batch_id, sent, total)
            elif isinstance(exc, ApiRefused) and exc.status == 409:
                exc.with_hint(
                    f"a batch {batch_id} exists already; resuming it takes the same essays and"
                    " the same --page-essays/--page-bytes as the run that created it; for a new"
                    " batch choose another --batch-id"
                )
            raise
        except KeyboardInterrupt:
            stopped = CliError("stopped while sending essays", INTERRUPTED)
            if created:
                _add_resume_hint(stopped, batch_id, sent, total)
            raise stopped from None
        _check_accepted(answer, page)
        sent += len(page)
        on_sent(len(page))
    assert batch_id is not None
    return batch_id


def _check_accepted(answer: dict, page: list[Essay]) -> None:
    """The API answers with the ids it took: anything else must not pass unnoticed."""
    expected = [e.essay_id for e in page]
    if answer.get("essay_ids") != expected:
        raise CliError(
            f"the API accepted {answer.get('essay_count')} essays of a page of {len(page)},"
            " or under other ids; nothing was triggered",
            API_REFUSED,
        )


def _add_resume_hint(exc: CliError, batch_id: str | None, sent: int, total: int) -> None:
    exc.with_hint(
        f"batch {batch_id} holds {sent} of these {total} essays and was not triggered; run the"
        f" same command again with --batch-id {batch_id} to send the rest (pages the API has"
        " already are recognised, not duplicated)"
    )


def trigger(client: ApiClient, batch_id: str) -> bool:
    """Ask for the spellcheck; False when the batch had been triggered before (a re-run)."""
    try:
        client.post(f"/v1/batch/{path_part(batch_id)}/spellcheck")
        return True
    except ApiRefused as exc:
        if exc.status != 409:
            raise
        status = client.get(f"/v1/batch/{path_part(batch_id)}/status", {"limit": 1})
        if status.get("triggered_at"):
            return False
        raise
