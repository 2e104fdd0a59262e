"""One logging configuration for the API, the worker and the content store.

LOG_FORMAT=json (the default) writes one JSON object per line, so logs can be searched by field:
`time`, `level`, `logger`, `message`, then the line's own fields. Every line about an essay or a
batch carries `correlation_id`, `essay_id` and/or `batch_id` as fields, from three sources:
- `extra={...}` where the line is logged (workflows and activities do this);
- `bind_log_context(...)`, for every line logged later in the same task (the API binds the
  correlation id when a request starts, and the essay or batch id once it knows it);
- the Temporal SDK's own lines (a failed activity attempt, say): their workflow id names the
  essay or the batch, and is read back into fields (see `ids_from_workflow`).
LOG_FORMAT=text writes the same lines for people.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["json", "text"]

# Immutable mappings only: each bind sets a new one, so a task never changes what another sees.
_NOTHING_BOUND: Mapping[str, str] = MappingProxyType({})
_bound: ContextVar[Mapping[str, str]] = ContextVar("log_context", default=_NOTHING_BOUND)

# The inverse of contracts/ids.py, per workflow type (a batch id may itself end in "-c3", so the
# type says which pattern applies). Tested against ids.py in tests/unit/test_logging_setup.py.
_WORKFLOW_IDS = {
    "EssayWorkflow": re.compile(r"^essay-(?P<essay_id>.+)$"),
    "BatchWorkflow": re.compile(r"^batch-(?P<batch_id>.+)$"),
    "ChunkWorkflow": re.compile(r"^batch-(?P<batch_id>[^/]+)/(?P<chunk>.+)$"),
}


def bind_log_context(**fields: str | None) -> None:
    """Add `fields` to every line logged from now on by this task and the tasks it starts."""
    _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})


def ids_from_workflow(workflow_type: str | None, workflow_id: str | None) -> dict[str, str]:
    """`essay_id`, or `batch_id` (and `chunk`), named by one of our workflows' ids."""
    pattern = _WORKFLOW_IDS.get(workflow_type or "")
    match = pattern.match(workflow_id or "") if pattern else None
    return match.groupdict() if match else {}


class ContextFields(logging.Filter):
    """Adds the bound fields, and the ids a Temporal workflow id names, to each record.

    A field the line set itself always wins. Set on the handler, so it sees every record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        for key, value in _bound.get().items():
            fields.setdefault(key, value)
        temporal = fields.get("temporal_workflow") or fields.get("temporal_activity")
        if isinstance(temporal, Mapping):
            ids = ids_from_workflow(temporal.get("workflow_type"), temporal.get("workflow_id"))
            for key, value in ids.items():
                fields.setdefault(key, value)
        return True


class TextFormatter(logging.Formatter):
    """The classic line, with the essay and batch fields appended so people see them too."""

    SHOWN = ("correlation_id", "batch_id", "essay_id")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        shown = [f"{k}={record.__dict__[k]}" for k in self.SHOWN if k in record.__dict__]
        return f"{line} [{' '.join(shown)}]" if shown else line


def build_formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "text":
        return TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="time",  # ISO 8601, UTC
        rename_fields={"levelname": "level", "name": "logger"},
        # `temporal_log` is the SDK core's raw record; its text is in the message already.
        reserved_attrs=[*RESERVED_ATTRS, "temporal_log"],
    )


def configure_logging(level: str, log_format: LogFormat = "json") -> None:
    """Send every logger's lines to stderr, one per line, in `log_format`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(build_formatter(log_format))
    handler.addFilter(ContextFields())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)  # Python's warnings too, as lines of the same format
    # aiokafka logs every failed reconnect at ERROR; during an outage that is noise, since the
    # activity's own failure (with its attempt count) already says what is happening. httpx
    # logs every request at INFO; the activity's own line says the same, with the essay's ids.
    quieter = max(logging.getLevelName(level), logging.WARNING)
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(quieter)
    if log_format == "json":
        _temporal_info_in_fields_only()


def _temporal_info_in_fields_only() -> None:
    """The SDK appends its workflow or activity info to each message as a dict's text; in JSON
    the same info is a field already (`temporal_workflow`, `temporal_activity`), so the
    message is left as written."""
    if "temporalio" not in sys.modules:  # the content store never loads the SDK
        return
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
