"""Schemathesis hooks for the fuzz test (loaded through SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

The API's own promise, beyond what the document's schemas say: every error, whatever the
request, is JSON with exactly `error` and `details`.
"""

from __future__ import annotations

import json

import schemathesis


@schemathesis.check
def error_is_json_error_and_details(ctx, response, case) -> None:
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"a {response.status_code} answer is not JSON: {response.content[:200]!r}"
        ) from None
    if not isinstance(body, dict) or set(body) != {"error", "details"}:
        raise AssertionError(f"a {response.status_code} answer is not {{error, details}}: {body}")
    if not isinstance(body["error"], str) or not body["error"]:
        raise AssertionError(f"a {response.status_code} answer has no error title: {body}")


def _repeats_an_essay_id(body: object) -> bool:
    essays = body.get("essays") if isinstance(body, dict) else None
    if not isinstance(essays, list):
        return False
    ids = [e["essay_id"] for e in essays if isinstance(e, dict) and e.get("essay_id")]
    return len(ids) != len(set(ids))


@schemathesis.hook
def filter_case(context, case) -> bool:
    """Don't send a page whose client essay ids repeat as a valid request: the API refuses it
    (400), but no JSON Schema keyword says "unique by one field", so the document cannot.
    tests/api/test_bad_input_corpus.py covers the refusal."""
    meta = case.meta
    if meta is not None and not meta.generation.mode.is_positive:
        return True
    return not _repeats_an_essay_id(case.body)
