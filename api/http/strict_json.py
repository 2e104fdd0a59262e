"""Parsing request bodies as strict JSON (the I-JSON profile, RFC 7493), so that nothing a client
sent is silently changed or dropped on the way into a workflow.

Python's `json.loads` is lenient where that matters here: it accepts `NaN` and `Infinity`, turns
`1e400` into infinity (both later become `null` or fail when Temporal serialises the input),
keeps only the last of two members with the same name, and decodes a lone surrogate escape
(`"\\ud800"`) into a string that cannot be encoded as UTF-8. Each of those is refused here with
a message, as is nesting too deep for the parser (a `RecursionError`, not a `ValueError`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Where the escape of a surrogate (\uD800 to \uDFFF, either case) may begin.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD]")


class InvalidJson(ValueError):
    """The body is not JSON this API accepts; the message says why, for the client."""


def _no_constants(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidJson(f"the number {text[:40]} is out of range")
    return number


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise InvalidJson(f"the member name {name[:64]!r} appears more than once")
            seen.add(name)
    return obj


def _lone_surrogate(value: Any) -> bool:
    """Whether any string in `value` holds a surrogate that is not half of a pair."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(raw: bytes) -> Any:
    """The body's value, or InvalidJson saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"the body is not valid UTF-8: {exc.reason}") from None
    try:
        value = json.loads(
            text,
            parse_constant=_no_constants,
            parse_float=_finite,
            object_pairs_hook=_unique_names,
        )
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidJson("the body is nested too deeply") from None
    except ValueError:  # the one other: an integer of more digits than Python converts
        raise InvalidJson("a number in the body has too many digits") from None
    # Only an escape can make a lone surrogate (the text itself is valid UTF-8): skip the walk
    # through a large batch unless one might be there; one regex pass is cheaper than two `in`
    # searches on the API's event loop.
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(value):
        raise InvalidJson("a string holds a lone UTF-16 surrogate escape (not valid Unicode)")
    return value
