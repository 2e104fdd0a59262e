"""The one error type commands raise on purpose, and what each exit code means.

A command never ends in a traceback: whatever goes wrong becomes a message on stderr and one of
these exit codes, so scripts can tell "fix your input" from "try again later".
"""

from __future__ import annotations

OK = 0
API_REFUSED = 1  # the API answered with an error (a 4xx, or a 5xx it did not recover from)
BAD_INPUT = 2  # a bad option, path or essay file (click's own usage errors use 2 as well)
UNREACHABLE = 3  # the API could not be reached, or stayed unavailable past the retries
NOT_ALL_PUBLISHED = 4  # the batch finished, but some essays failed or were cancelled
INTERRUPTED = 130  # Ctrl-C: the convention for SIGINT
UNEXPECTED = 1  # a bug in this tool: like a refusal, "it failed, read the message"


class CliError(Exception):
    """A failure to report as `error: <message>` (plus optional hint lines) and an exit code."""

    def __init__(self, message: str, exit_code: int, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hints = list(hints or [])

    def with_hint(self, hint: str) -> CliError:
        self.hints.append(hint)
        return self


class ApiRefused(CliError):
    """The API answered with an error status; `error` and `details` are its body's fields."""

    def __init__(self, status: int, error: str, details: object, hints: list[str] | None = None):
        super().__init__(
            f"the API answered {status} {error}{_details_line(details)}", API_REFUSED, hints
        )
        self.status = status
        self.error = error
        self.details = details


def _details_line(details: object) -> str:
    """The API's `details`: a string, a list of field errors, or (rarely) an object."""
    if details is None or details == "":
        return ""
    if isinstance(details, str):
        return f": {details}"
    if isinstance(details, list):
        lines = [_field_error(item) for item in details]
        return ":" + "".join(f"\n  {line}" for line in lines)
    if isinstance(details, dict):
        return ":" + "".join(f"\n  {key}: {value}" for key, value in details.items())
    return f": {details}"


def _field_error(item: object) -> str:
    if isinstance(item, dict) and "message" in item:
        field = item.get("field")
        return f"{field}: {item['message']}" if field else str(item["message"])
    return str(item)
