"""store_essay against the real content store; one fake transport for the 5xx/429 branch."""

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.content import CONTENT_REJECTED, CONTENT_UNAVAILABLE, ContentActivities
from contracts.essay import StoreEssayInput
from devstack.components import free_port
from tests.conftest import Server, content_url

ESSAY = StoreEssayInput(essay_id="e1", text="Helo wrold, ünïcode 🙂", correlation_id="c1")


async def store(url: str, inp: StoreEssayInput = ESSAY, transport=None):
    async with httpx.AsyncClient(transport=transport, timeout=5) as http:
        return await ActivityEnvironment().run(ContentActivities(http, url).store_essay, inp)


async def test_stores_the_exact_text(content_store: Server) -> None:
    stored = await store(content_url(content_store))
    async with httpx.AsyncClient() as http:
        fetched = await http.get(f"{content_url(content_store)}/{stored.storage_id}")
    assert fetched.content == ESSAY.text.encode()


async def test_a_4xx_is_not_retryable(content_store: Server) -> None:
    # The real store refuses an empty body with 400: a request a retry cannot fix.
    with pytest.raises(ApplicationError) as caught:
        await store(content_url(content_store), ESSAY.model_copy(update={"text": ""}))
    assert caught.value.type == CONTENT_REJECTED
    assert caught.value.non_retryable
    assert "400" in caught.value.message


async def test_connection_refused_is_retryable() -> None:
    with pytest.raises(ApplicationError) as caught:
        await store(f"http://127.0.0.1:{free_port()}/v1/content")
    assert caught.value.type == CONTENT_UNAVAILABLE
    assert not caught.value.non_retryable


@pytest.mark.parametrize(
    ("status", "headers", "delay_s"),
    [
        (503, {}, None),
        (500, {}, None),
        (408, {}, None),
        (429, {"Retry-After": "7"}, 7),
        (429, {"Retry-After": "3600"}, 60),
    ],
)
async def test_overload_and_server_errors_are_retryable(
    status: int, headers: dict[str, str], delay_s: int | None
) -> None:
    # A real store does not answer 5xx/429 on demand, so this one branch uses a fake transport.
    transport = httpx.MockTransport(lambda request: httpx.Response(status, headers=headers))
    with pytest.raises(ApplicationError) as caught:
        await store("http://content.invalid/v1/content", transport=transport)
    assert caught.value.type == CONTENT_UNAVAILABLE
    assert not caught.value.non_retryable
    delay = caught.value.next_retry_delay
    assert (delay.total_seconds() if delay else None) == delay_s


async def test_a_malformed_answer_is_retried_not_trusted() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(201, json={"storage_id": "../../etc/passwd"})
    )
    with pytest.raises(ApplicationError) as caught:
        await store("http://content.invalid/v1/content", transport=transport)
    assert caught.value.type == CONTENT_UNAVAILABLE
    assert not caught.value.non_retryable


async def test_a_wrong_url_is_retried_as_no_fault_of_the_essay(content_store: Server) -> None:
    # A real 404 for the collection: a wrong CONTENT_SERVICE_URL fails no essay; they wait,
    # retried, for an operator to fix it, and say so in words, naming no address.
    wrong = f"http://{content_store.address}/v1/no-such-collection"
    with pytest.raises(ApplicationError) as caught:
        await store(wrong)
    assert caught.value.type == CONTENT_UNAVAILABLE
    assert not caught.value.non_retryable
    assert caught.value.message == "the Content Service answered 404"


@pytest.mark.parametrize(
    ("status", "essays_fault"),
    [(401, False), (403, False), (400, True), (413, True), (415, True), (422, True)],
)
async def test_only_what_the_essay_causes_fails_it(status: int, essays_fault: bool) -> None:
    # A credential (401, 403) is an operator's to fix; a real store cannot be made to answer
    # these on demand, so this branch uses a fake transport.
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="internal-host"))
    with pytest.raises(ApplicationError) as caught:
        await store("http://content.invalid/v1/content", transport=transport)
    assert caught.value.non_retryable is essays_fault
    assert caught.value.type == (CONTENT_REJECTED if essays_fault else CONTENT_UNAVAILABLE)
    assert "internal-host" not in caught.value.message
    assert str(status) in caught.value.message
