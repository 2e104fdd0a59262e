"""Request metrics are labelled by route template, never by the path that carries an id."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY
from quart.typing import TestClientProtocol as ApiClient

from api.metrics import UNMATCHED_ROUTE

DURATION_COUNT = "huleedu_api_request_duration_seconds_count"


def requests_seen(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value(DURATION_COUNT, labels) or 0.0


async def test_a_status_request_counts_under_its_template(api: ApiClient) -> None:
    template = "/v1/essays/<essay_id>/status"
    before = requests_seen(template, "GET", "404")
    unknown = [f"metrics-{uuid.uuid4()}" for _ in range(3)]
    for essay_id in unknown:
        assert (await api.get(f"/v1/essays/{essay_id}/status")).status_code == 404
    assert requests_seen(template, "GET", "404") == before + 3
    exposition = "\n".join(
        f"{sample.name} {sample.labels}"
        for metric in REGISTRY.collect()
        for sample in metric.samples
    )
    assert not any(essay_id in exposition for essay_id in unknown)


async def test_unmatched_paths_and_invented_methods_share_one_series(api: ApiClient) -> None:
    not_found = requests_seen(UNMATCHED_ROUTE, "GET", "404")
    wrong_method = requests_seen(UNMATCHED_ROUTE, "DELETE", "405")
    invented = requests_seen(UNMATCHED_ROUTE, "other", "405")
    for n in range(2):
        assert (await api.get(f"/no/such/page/{n}")).status_code == 404
    assert (await api.delete("/v1/trigger-spellcheck")).status_code == 405
    for method in ("BREW", "WHEN"):
        assert (await api.open("/v1/trigger-spellcheck", method=method)).status_code == 405
    assert requests_seen(UNMATCHED_ROUTE, "GET", "404") == not_found + 2
    assert requests_seen(UNMATCHED_ROUTE, "DELETE", "405") == wrong_method + 1
    assert requests_seen(UNMATCHED_ROUTE, "other", "405") == invented + 2


async def test_validation_failures_count_with_their_status(api: ApiClient) -> None:
    before = requests_seen("/v1/trigger-spellcheck", "POST", "400")
    response = await api.post("/v1/trigger-spellcheck", json={"text": "   "})
    assert response.status_code == 400
    assert requests_seen("/v1/trigger-spellcheck", "POST", "400") == before + 1
