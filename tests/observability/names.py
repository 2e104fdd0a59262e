"""Our metric names as exposed, and the ones the alert rules and the operations page name."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from activities.metrics import CONTENT_STORED, EVENTS_PUBLISHED
from api.metrics import REQUEST_DURATION, WORKFLOW_STARTS
from results.consumer import LAG, RESULTS
from telemetry.backlog import BACKLOG_ESSAYS, BACKLOG_OLDEST_AGE
from workflows.results import RESULTS_IGNORED

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
OPERATIONS_PAGE = ROOT / "docs" / "operations.md"
OUR_METRIC = re.compile(r"\bhuleedu_[a-z_]+\b")

# As exposed: prometheus-client adds `_total` to a counter's name.
# The results consumer's (`python -m results`, on RESULTS_METRICS_PORT).
RESULTS_CONSUMER = {RESULTS.describe()[0].name + "_total", LAG.describe()[0].name}
OURS = {
    REQUEST_DURATION.describe()[0].name,
    WORKFLOW_STARTS.describe()[0].name + "_total",
    CONTENT_STORED,
    EVENTS_PUBLISHED,
    BACKLOG_ESSAYS,
    BACKLOG_OLDEST_AGE,
    RESULTS_IGNORED,
    *RESULTS_CONSUMER,
}


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def named_in(text: str) -> set[str]:
    """Our metric names in a text, a histogram's series (`_count`, ...) read as the histogram."""
    return {re.sub(r"_(count|sum|bucket)$", "", name) for name in OUR_METRIC.findall(text)}


def alert_metrics() -> set[str]:
    """The metrics the rules' expressions watch."""
    return set().union(*(named_in(rule["expr"]) for rule in alert_rules()))
