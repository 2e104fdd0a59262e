"""The OpenAPI document and the docs page: complete, valid, true to the settings, offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import schemathesis
from quart.typing import TestClientProtocol as ApiClient
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.service.openapi import ERRORS, build_document
from settings import Settings

# Quart answers these for every route itself; the document describes the routes' own methods.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


def routes(settings: Settings, dev_env: WorkflowEnvironment) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, paths written as the document does."""
    app = create_app(temporal_client=dev_env.client, settings=settings)
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served |= {(method.lower(), path) for method in rule.methods - IMPLICIT_METHODS}
    return served


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_every_route_the_app_serves_is_documented_and_nothing_else(
    dev_env: WorkflowEnvironment,
) -> None:
    settings = Settings()
    documented = {(method, path) for method, path, _ in operations(build_document(settings))}
    served = routes(settings, dev_env)
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_the_document_is_valid_openapi_with_every_reference_resolved() -> None:
    document = build_document(Settings())
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.1 meta-schema

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        _, _, kind, name = ref.split("/")
        assert name in document["components"][kind], ref


def test_every_error_an_operation_lists_is_an_error_body() -> None:
    document = build_document(Settings())
    components = document["components"]["responses"]
    for method, path, operation in operations(document):
        assert "500" in operation["responses"], (method, path)
        for status, answer in operation["responses"].items():
            if int(status) < 400:
                continue
            if (path, status) == ("/readyz", "503"):  # the error shape plus `status`
                not_ready = document["components"]["schemas"]["NotReady"]
                assert {"error", "details"} <= set(not_ready["required"])
                continue
            name = answer["$ref"].rsplit("/", 1)[-1]
            assert name == ERRORS[int(status)][0], (method, path, status)
            schema = components[name]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["error", "details"]
    assert error_body["additionalProperties"] is False


def test_the_document_states_the_limits_this_api_runs_with() -> None:
    document = build_document(
        Settings(max_batch_essays=7, max_request_bytes=2048, max_batch_request_bytes=4096)
    )
    schemas = document["components"]["schemas"]
    assert schemas["BatchIn"]["properties"]["essays"]["maxItems"] == 7
    assert schemas["PageIn"]["properties"]["essays"]["maxItems"] == 7
    assert schemas["BatchIn"]["properties"]["essays"]["minItems"] == 1
    assert schemas["EssayIn"]["properties"]["text"]["maxLength"] == 384 * 1024
    assert schemas["BatchIn"]["additionalProperties"] is False
    trigger = document["paths"]["/v1/trigger-spellcheck"]["post"]
    assert "2048 bytes" in trigger["requestBody"]["description"]
    batch = document["paths"]["/v1/batch"]["post"]
    assert "4096 bytes" in batch["requestBody"]["description"]
    ids = document["components"]["parameters"]["BatchId"]["schema"]
    assert (ids["maxLength"], ids["minLength"]) == (64, 1)
    assert re.fullmatch(ids["pattern"], "class-9b")
    assert not re.fullmatch(ids["pattern"], "..")


async def test_the_api_serves_its_document(api: ApiClient) -> None:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    served = await response.get_json()
    # The test app's settings are the suite's defaults for every limit.
    assert served == build_document(Settings())


async def test_the_docs_page_shows_every_operation_and_loads_nothing_from_elsewhere(
    api: ApiClient,
) -> None:
    response = await api.get("/docs")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = await response.get_data(as_text=True)
    document = build_document(Settings())
    for _, path, operation in operations(document):
        assert f'id="{operation["operationId"]}"' in page
        assert f"<code>{path}</code>" in page, path
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "<script" not in page.lower()
    assert re.findall(r"\bsrc\s*=", page) == []
    links = re.findall(r'href="([^"]*)"', page)
    assert links and all(link.startswith("#") or link == "/openapi.json" for link in links)
