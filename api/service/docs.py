"""`GET /openapi.json` and `GET /docs`: the API's document, built once per app from its settings."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app

from api.service.docs_page import render
from api.service.openapi import build_document
from api.temporal import settings

documentation = Blueprint("documentation", __name__)

DOCUMENT = "openapi_document"
PAGE = "openapi_page"


def _document() -> dict[str, Any]:
    cached = current_app.extensions.get(DOCUMENT)
    if cached is None:
        cached = current_app.extensions[DOCUMENT] = build_document(settings())
    return cached


@documentation.get("/openapi.json")
async def openapi_json():
    return _document()


@documentation.get("/docs")
async def docs():
    page = current_app.extensions.get(PAGE)
    if page is None:
        page = current_app.extensions[PAGE] = render(_document())
    return Response(page, content_type="text/html; charset=utf-8")
