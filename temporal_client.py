"""How every process here connects to Temporal: one place, one data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from settings import Settings


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect with the pydantic data converter (workflows exchange pydantic models).

    `lazy=True` defers the connection to the first call, so the API can start, and answer 503,
    while Temporal is unreachable.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )
