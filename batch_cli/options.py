"""Options every command shares: where the API is, the key, and how patient to be with it.

Each command takes them itself (rather than the top-level command), so they may come after the
command's name, where people put them: `batch-service status b-1 --api-url http://host:5000`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from batch_cli.api_client import ApiClient
from batch_cli.errors import BAD_INPUT, CliError

DEFAULT_API_URL = "http://localhost:5000"
CONNECTION = "Connection"  # the help panel they are listed under

ApiUrl = Annotated[
    str,
    typer.Option(
        "--api-url",
        envvar="BATCH_SERVICE_URL",
        help="The API's base URL.",
        rich_help_panel=CONNECTION,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="BATCH_SERVICE_API_KEY",
        help="API key, sent as `Authorization: Bearer <key>`.",
        show_default=False,
        rich_help_panel=CONNECTION,
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.1, help="Seconds to wait for one answer.", rich_help_panel=CONNECTION
    ),
]
RetryFor = Annotated[
    float,
    typer.Option(
        "--retry-for",
        min=0,
        help="Seconds to keep retrying while the API answers 429/503 or does not answer.",
        rich_help_panel=CONNECTION,
    ),
]
Interval = Annotated[
    float, typer.Option("--interval", min=0.1, help="Seconds between two status polls.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def connect(api_url: str, api_key: str | None, timeout: float, retry_for: float) -> ApiClient:
    """The client for these options; a URL without its scheme is a typo, caught here."""
    if not api_url.startswith(("http://", "https://")):
        raise CliError(
            f"--api-url must start with http:// or https:// (got {api_url!r})", BAD_INPUT
        )
    return ApiClient(api_url, api_key, timeout_s=timeout, retry_for_s=retry_for)
