"""Reading what the processes expose: their metrics endpoints and their log files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Scrape:
    """One scrape of a /metrics endpoint: every sample, by name and labels."""

    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        """The sum over the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(
            value
            for sample_name, sample_labels, value in self.samples
            if sample_name == name and labels.items() <= sample_labels.items()
        )

    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples}


# One sample line of the text exposition format: `name{label="value",...} value [timestamp]`.
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> Scrape:
    """The samples exactly as exposed. (prometheus-client's own parser renames a counter's
    samples to end in `_total`, which would hide the very names an operator queries.)"""
    samples = []
    for line in text.splitlines():
        if match := SAMPLE.match(line):
            labels = {m["key"]: m["value"] for m in LABEL.finditer(match["labels"] or "")}
            samples.append((match["name"], labels, float(match["value"])))
    return Scrape(samples)


async def scrape(url: str) -> Scrape:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    response.raise_for_status()
    return parse_exposition(response.text)


def json_lines(path: Path) -> Iterator[dict]:
    """Every log line of a process, each parsed as the one JSON object it must be.

    Lines starting with `---` are the test harness's own markers between process starts.
    """
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("--- "):
            yield json.loads(line)
