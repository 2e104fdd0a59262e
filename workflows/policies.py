"""Retry policy shared by the workflows: durable, capped backoff, no end."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

INITIAL_BACKOFF = timedelta(seconds=1)
MAX_BACKOFF = timedelta(seconds=60)

# Dependencies may be down for hours: retry forever (no maximum_attempts and no
# schedule-to-close timeout, either of which would turn an outage into lost essays), backing off
# from 1 s to at most a minute. Errors a retry cannot fix are raised as non-retryable.
DURABLE_RETRY = RetryPolicy(
    initial_interval=INITIAL_BACKOFF,
    backoff_coefficient=2.0,
    maximum_interval=MAX_BACKOFF,
    maximum_attempts=0,
)


def backoff(attempt: int, asked: timedelta | None = None) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based), as DURABLE_RETRY would wait;
    a delay the failing service asked for (Retry-After) wins, within the same cap."""
    if asked is not None:
        return min(asked, MAX_BACKOFF)
    return min(INITIAL_BACKOFF * 2 ** min(attempt - 1, 16), MAX_BACKOFF)
