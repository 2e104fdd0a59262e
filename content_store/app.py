"""The content store's HTTP app (Quart)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from content_store.storage import STORAGE_ID, FileStorage

log = logging.getLogger("content_store")

DISK_THREADS = 32
# HuleEdu essays are far smaller; the cap only stops a runaway client from filling the disk.
MAX_CONTENT_BYTES = 10 * 1024 * 1024


def _error(status: int, error: str, details: str) -> tuple[dict, int]:
    return {"error": error, "details": details}, status


def create_app(data_dir: Path) -> Quart:
    app = Quart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_BYTES
    storage = FileStorage(data_dir)
    # Each write waits on an fsync (about a millisecond): many in flight at once keep the disk
    # busy, where asyncio's default pool (cores + 4 threads) would queue them.
    disk = ThreadPoolExecutor(max_workers=DISK_THREADS, thread_name_prefix="content-disk")

    async def on_disk(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(disk, fn, *args)

    @app.after_serving
    async def close_disk() -> None:
        disk.shutdown(wait=True)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.name, exc.description or "")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/v1/content")
    async def store():
        data = await request.get_data(cache=False)
        if not data:
            return _error(400, "Bad request", "the body is empty: send the text to store")
        # Disk I/O off the event loop: an fsync can take milliseconds.
        storage_id = await on_disk(storage.put, data)
        # The orchestrator sends its correlation id: the line joins the essay's other lines.
        fields = {"storage_id": storage_id, "bytes": len(data)}
        if correlation_id := request.headers.get("X-Correlation-ID"):
            fields["correlation_id"] = correlation_id[:128]
        log.info("content stored", extra=fields)
        return {"storage_id": storage_id}, 201

    @app.get("/v1/content/<storage_id>")
    async def fetch(storage_id: str):
        if not STORAGE_ID.match(storage_id):
            return _error(400, "Bad request", "a storage id is 32 lowercase hex characters")
        data = await on_disk(storage.get, storage_id)
        if data is None:
            return _error(404, "Not found", f"no content with storage id {storage_id}")
        return Response(data, status=200, content_type="application/octet-stream")

    return app
