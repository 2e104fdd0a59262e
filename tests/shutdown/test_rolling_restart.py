"""A rolling restart under load: the API, then the worker, replaced while essays keep coming.

Single essays (two clients) and batches (create and trigger, one client) are posted without
pause through a stand-in load balancer. Each piece is replaced as a rolling deploy does: the
new process first, then the old one taken out of rotation and sent SIGTERM. Every essay answered
202 must be published, and no request may fail mid-way; a connection refused before anything
was sent is allowed (the balancer sends the request to the other API).
"""

from __future__ import annotations

import asyncio

from tests.helpers import TopicReader, expected_event_ids, wait_until
from tests.shutdown.deployment import (
    Deployment,
    exit_code,
    refuses_connections,
    sigterm,
    terminate,
)
from tests.shutdown.held_request import HeldRequest
from tests.shutdown.load import Accepted, Balancer, Load

ESSAYS_PER_PHASE = 20
STOP_WITHIN_S = 60  # the 10 s grace periods, on a slow machine


async def test_a_rolling_restart_under_load_loses_no_essay(deployment: Deployment) -> None:
    old_api = await deployment.start_api()
    old_worker = await deployment.start_worker()
    balancer = Balancer()
    balancer.register(old_api.url)
    load = Load(balancer)
    running = asyncio.create_task(load.run())
    try:
        await load.wait_for_more(ESSAYS_PER_PHASE, 1, "essays accepted before the restart")

        # The API: a new one in rotation, a request held in flight on the old one, then the
        # old one out of rotation and stopped.
        new_api = await deployment.start_api()
        balancer.register(new_api.url)
        held = HeldRequest(old_api.port, "/v1/trigger-spellcheck", {"text": "held across SIGTERM"})
        await held.begin()
        await balancer.deregister(old_api.url)
        in_flight_at_sigterm = balancer.awaiting[old_api.url] + 1  # the held one
        sigterm(old_api.process)

        async def stopped_listening() -> bool:
            return await refuses_connections(old_api.port)

        await wait_until(stopped_listening, timeout_s=30, what="the old API to stop listening")
        # A client still sending there is refused before anything is sent, and goes elsewhere.
        refused_before = balancer.refused
        assert await load.post_essay("sent to the stopped API", to=old_api.url), balancer.failures
        assert balancer.refused == refused_before + 1
        status, body = await held.finish()
        assert status == 202, body
        load.accepted.append(Accepted(body["essay_id"], None))
        assert await exit_code(old_api.process, STOP_WITHIN_S) == 0, deployment.log(old_api.process)
        await load.wait_for_more(ESSAYS_PER_PHASE, 1, "essays accepted by the new API")

        # The worker: a new one polling, then the old one stopped.
        await deployment.start_worker()
        code = await terminate(old_worker, STOP_WITHIN_S)
        assert code == 0, deployment.log(old_worker)
        await load.wait_for_more(ESSAYS_PER_PHASE, 1, "essays accepted after the old worker")
    finally:
        load.stop()
        await running
        await balancer.aclose()

    assert balancer.failures == []
    ids = await expected_event_ids(
        deployment.client,
        singles=[a.essay_id for a in load.accepted if not a.batch_id],
        batch_ids={a.batch_id for a in load.accepted if a.batch_id},
    )
    expected = {ids[a.essay_id] for a in load.accepted}
    assert len(expected) == len(load.accepted)  # no essay id was handed out twice
    settings = deployment.settings
    async with TopicReader(settings.kafka_bootstrap_servers, settings.kafka_topic) as reader:
        await reader.read_keys({a.essay_id.encode() for a in load.accepted}, timeout_s=180)
        published = {m.headers["event_id"].decode() for m in reader.messages}
    # Every essay answered 202 is on the topic, and nothing else.
    assert published == expected
    print(
        f"rolling restart: {len(load.accepted)} essays accepted ({load.batches} batches), "
        f"{len(reader.messages)} messages, {len(published)} distinct event ids, "
        f"{in_flight_at_sigterm} requests in flight at the API's SIGTERM, "
        f"{balancer.refused} refused, {load.unavailable} answered 503 and repeated"
    )
