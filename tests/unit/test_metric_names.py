"""The alert rules and the operations page name the metrics the code really makes.

The end-to-end tests (tests/observability) check that the same names come out of the endpoints.
"""

from __future__ import annotations

import re

from telemetry.backlog import BACKLOG_ESSAYS
from tests.observability.names import OPERATIONS_PAGE, OURS, alert_rules, named_in


def test_every_alert_rule_is_complete() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {"EssayBacklogGrowing", "EssayWaitingTooLong"}
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])


def test_alert_rules_name_only_metrics_that_exist() -> None:
    for rule in alert_rules():
        named = named_in(f"{rule['expr']} {rule['annotations']['description']}")
        assert named, f"{rule['alert']} names none of our metrics"
        assert named <= OURS, f"{rule['alert']} names unknown metrics: {named - OURS}"
    growing = next(r for r in alert_rules() if r["alert"] == "EssayBacklogGrowing")
    assert BACKLOG_ESSAYS in growing["expr"]


def test_the_operations_page_lists_every_metric_and_no_other() -> None:
    page = OPERATIONS_PAGE.read_text()
    section = page.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert named_in(section) == OURS
