"""A page's generated essay ids are fixed forever: a retried page must get the same ones."""

from __future__ import annotations

import uuid

import pytest

from api.batches.pages import ESSAY_ID_NAMESPACE, EssayIn, _id_maker, plan_page
from contracts.batch import CHUNK_MAX_ESSAYS


def test_ids_and_digest_are_the_ones_pages_always_got() -> None:
    # Computed by the first implementation (uuid.uuid5 per essay), before any change to it.
    page = plan_page(
        "batch-7",
        [
            EssayIn(text="Första uppsatsen."),
            EssayIn(text="Second", essay_id="mine-1"),
            EssayIn(text="third é"),
        ],
    )
    assert page.digest == "e7bc666e36c5b7d3f98ad4391b5c34fe36a6e65472fb8cdd63e04a7ea3cb4df6"
    assert page.essay_ids == [
        "deb851c3-b7c1-5edc-89d1-3d8a9337523a",
        "mine-1",
        "7986284f-5cdd-5b6d-9979-331365ca9df7",
    ]
    assert page.client_essay_ids == ["mine-1"]


@pytest.mark.parametrize("prefix", ["", "b/0f3a/", "klass-9b/" + "e" * 64 + "/", "åäö 漢字 🙂/"])
def test_generated_ids_are_uuid5_of_the_page_and_index(prefix: str) -> None:
    new_id = _id_maker(prefix)
    for index in [*range(300), 10**6, 2**40]:
        assert new_id(index) == str(uuid.uuid5(ESSAY_ID_NAMESPACE, f"{prefix}{index}"))


def test_chunks_keep_page_order_within_the_essay_cap() -> None:
    essays = [EssayIn(text=f"essay {n} ü") for n in range(CHUNK_MAX_ESSAYS * 2 + 1)]
    page = plan_page("b", essays)
    assert [len(c) for c in page.chunks] == [CHUNK_MAX_ESSAYS, CHUNK_MAX_ESSAYS, 1]
    assert [e.essay_id for c in page.chunks for e in c] == page.essay_ids
    assert [e.text for e in page.essays] == [e.text for e in essays]
