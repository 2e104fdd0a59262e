"""Workflow ids carry meaning and make starts idempotent.

A client's ids match `^[A-Za-z0-9._-]{1,64}$`, so `essay-{id}` and `batch-{id}` are the only
ids a client can name; what is derived from them (a batch's chunks) uses a `/`, which no client
id contains, so no client can pick an id that is another batch's chunk.
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes


def essay_workflow_id(essay_id: str) -> str:
    return f"essay-{essay_id}"


def batch_workflow_id(batch_id: str) -> str:
    return f"batch-{batch_id}"


def chunk_workflow_id(batch_id: str, chunk_key: str) -> str:
    return f"batch-{batch_id}/{chunk_key}"


def chunk_key(page_key: str, index: int) -> str:
    """The key of a page's `index`th chunk (from 0): the page's key, so a retried page starts
    the same chunks, and its place in the page."""
    return f"{page_key}.{index}"


def page_key_of(chunk_key: str) -> str:
    return chunk_key.rsplit(".", 1)[0]


# The memo key under which the API records a workflow's client (its owner); the workflows
# never write it, and the batch's lookups read it.
OWNER_MEMO = "owner"

# Workflow type names, fixed so that a workflow found by id can be checked for its type before
# it is used (anyone with access to the namespace can start any workflow under any id).
ESSAY_WORKFLOW = "EssayWorkflow"
BATCH_WORKFLOW = "BatchWorkflow"
CHUNK_WORKFLOW = "ChunkWorkflow"


# Custom search attributes: registered by `make dev` and the test fixtures before any workflow
# sets them (a workflow that sets an unregistered one stalls). In the Temporal UI,
# `BatchId="..."` lists a batch's parent and chunks, `EssayId="..."` a single essay's run.
BATCH_ID = SearchAttributeKey.for_keyword("BatchId")
ESSAY_ID = SearchAttributeKey.for_keyword("EssayId")
# Set to "published" once a followed single essay's request is out: its workflow still runs
# (waiting for the result) but owes no event, so the backlog does not count it.
ESSAY_STAGE = SearchAttributeKey.for_keyword("EssayStage")
PUBLISHED_STAGE = "published"
SEARCH_ATTRIBUTES = (BATCH_ID, ESSAY_ID, ESSAY_STAGE)
# The same for the `temporal` CLI (--search-attribute NAME=TYPE): all of ours are keywords.
SEARCH_ATTRIBUTE_TYPES = {key.name: "Keyword" for key in SEARCH_ATTRIBUTES}


def batch_search_attributes(batch_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(BATCH_ID, batch_id)])


def essay_search_attributes(essay_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(ESSAY_ID, essay_id)])
