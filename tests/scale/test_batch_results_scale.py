"""A school-sized batch followed to its spellcheck results, inside the scale suite's limits.

`make test` runs SCALE_ESSAYS=1000 with shrunk limits; `make test-scale` also runs this one at
SCALE_ESSAYS (10,000 unless set) at the server's defaults. The embedded spell checker answers
every request and the results consumer signals the chunks; the batch must reach
`spellchecked`, announce it once, and keep every history inside the limits. Prints the time
and the largest history.
"""

from __future__ import annotations

import time
import uuid

from tests.helpers import wait_until
from tests.results.conftest import Following
from tests.scale.conftest import limits_name
from tests.scale.test_batch_scale import (
    ESSAYS,
    PAGE,
    batch_status,
    closed_within_limits,
    essay,
    essay_text,
)


async def test_a_large_batch_reaches_spellchecked_inside_the_limits(following: Following) -> None:
    stack = following.stack
    batch_id = f"results-{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    for start in range(0, ESSAYS, PAGE):
        page = [essay(start + i, essay_text(start + i)) for i in range(min(PAGE, ESSAYS - start))]
        path = "/v1/batch" if start == 0 else f"/v1/batch/{batch_id}/essays"
        body = {"batch_id": batch_id, "essays": page} if start == 0 else {"essays": page}
        response = await stack.api.post(path, json=body, timeout=60)
        assert response.status_code == 202, response.text
    assert (await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202

    async def spellchecked() -> dict | None:
        status = await batch_status(stack, batch_id, offset=0, limit=100)
        return status if status["state"] == "spellchecked" else None

    final = await wait_until(
        spellchecked, timeout_s=1200, interval_s=1, what="the batch to be spellchecked"
    )
    took_s = time.monotonic() - began
    counts = final["counts"]
    assert counts["spellchecked"] == ESSAYS and counts["total"] == ESSAYS, counts

    async with following.batch_events() as events:

        async def announced() -> list | None:
            ours = [m for m in await events.read_for(0.5) if m.key == batch_id.encode()]
            return ours or None

        await wait_until(announced, timeout_s=60, what="the batch event")
        await events.read_for(2)  # a second event would come right behind the first
    ours = [m.body for m in events.messages if m.key == batch_id.encode()]
    assert len(ours) == 1 and ours[0]["counts"]["spellchecked"] == ESSAYS, ours

    print(
        f"\nscale with results: {ESSAYS} essays, limits={limits_name()}: spellchecked after "
        f"{took_s:.1f}s ({ESSAYS / took_s:.0f} essays/s); "
        f"{await closed_within_limits(stack, batch_id)}; parent runs: {final['workflow_runs']}"
    )
