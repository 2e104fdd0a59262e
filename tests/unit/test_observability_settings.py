"""Logs and metrics settings: defaults, and bad values stopped at start-up by name."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from api.metrics import serving_metrics
from settings import SettingsError, load_settings
from temporal_client import MetricsPortUnavailable, build_runtime


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOG_FORMAT", "API_METRICS_PORT", "WORKER_METRICS_PORT", "BACKLOG_INTERVAL_S"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert (s.log_format, s.api_metrics_port, s.worker_metrics_port) == ("json", 9100, 9101)
    assert s.backlog_interval_s == 15


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"API_METRICS_PORT": "-1"}, "API_METRICS_PORT"),
        ({"WORKER_METRICS_PORT": "65536"}, "WORKER_METRICS_PORT"),
        ({"PORT": "5000", "API_METRICS_PORT": "5000"}, "API_METRICS_PORT"),
        ({"BACKLOG_INTERVAL_S": "0"}, "BACKLOG_INTERVAL_S"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_zero_turns_an_endpoint_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_METRICS_PORT", "0")
    monkeypatch.setenv("WORKER_METRICS_PORT", "0")
    s = load_settings()
    assert (s.api_metrics_port, s.worker_metrics_port) == (0, 0)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_worker_metrics_port_is_a_clear_error(taken_port: int) -> None:
    with pytest.raises(MetricsPortUnavailable, match=f"127.0.0.1:{taken_port}"):
        build_runtime(f"127.0.0.1:{taken_port}")


async def test_a_taken_api_metrics_port_is_a_clear_error(taken_port: int) -> None:
    with pytest.raises(RuntimeError, match="API_METRICS_PORT"):
        async with serving_metrics("127.0.0.1", taken_port):
            pass
