"""docker-compose.yml as the tests see it: parsed, with `${VAR:-default}` resolved to defaults
and `${VAR:?message}` (what an operator must set) to the values in OPERATOR_SETS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.components import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

# Compose's interpolation forms this file may use: ${VAR}, ${VAR:-default}, ${VAR-default},
# and ${VAR:?message} for what has no safe default.
_INTERPOLATION = re.compile(
    r"\$\{(?P<name>\w+)(?:(?::?-(?P<default>[^}]*))|(?::\?(?P<required>[^}]*)))?\}"
)
# What an operator sets before `docker compose up` (docs/deployment.md), as such values look.
OPERATOR_SETS = {
    "PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
    "CODEC_TOKEN": "an-operators-token-0123456789",
    "API_KEYS": "school:a-clients-key-0123456789",
}


def interpolate_defaults(value: Any) -> Any:
    """What compose would substitute with none of the variables set (a missing default fails)."""
    if isinstance(value, str):

        def default(match: re.Match[str]) -> str:
            if match["required"] is not None:
                assert match["required"], f"{match[0]}: say what to set"
                return OPERATOR_SETS[match["name"]]
            if match["default"] is None:
                raise AssertionError(f"{match[0]} has no default: `docker compose up` needs it set")
            return match["default"]

        return _INTERPOLATION.sub(default, value)
    if isinstance(value, dict):
        return {key: interpolate_defaults(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_defaults(item) for item in value]
    return value


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    # safe_load resolves the file's anchors and `<<` merge keys as compose does.
    return interpolate_defaults(yaml.safe_load(path.read_text(encoding="utf-8")))


def environment(service: dict[str, Any]) -> dict[str, Any]:
    """A service's environment as a mapping, whichever of compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return dict(env)


@dataclass(frozen=True)
class PortMapping:
    host_ip: str | None
    host_port: int | None
    container_port: int


def port_mappings(service: dict[str, Any]) -> list[PortMapping]:
    """Short-syntax `ports` entries: "C", "H:C" or "IP:H:C" (no ranges, no protocols here)."""
    mappings = []
    for entry in service.get("ports") or []:
        parts = str(entry).split(":")
        if len(parts) == 1:
            mappings.append(PortMapping(None, None, int(parts[0])))
        elif len(parts) == 2:
            mappings.append(PortMapping(None, int(parts[0]), int(parts[1])))
        elif len(parts) == 3:
            mappings.append(PortMapping(parts[0], int(parts[1]), int(parts[2])))
        else:
            raise AssertionError(f"unexpected port entry {entry!r}")
    return mappings


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    """The healthcheck's command, without its CMD / CMD-SHELL marker."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):  # a plain string runs in a shell
        return [test]
    assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test starts with {test[0]!r}"
    return list(test[1:])


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    assert host and port.isdigit(), f"{address!r} is not host:port"
    return host, int(port)


def kafka_listeners(value: str) -> dict[str, tuple[str, int]]:
    """Kafka's `NAME://host:port,...` as {NAME: (host, port)}; an empty host is every interface."""
    listeners = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        listeners[name] = (host, int(port))
    return listeners


def flag_value(argv: list[str], flag: str) -> str:
    """The value after `flag` in an argv; fails when the flag is absent or repeated."""
    positions = [i for i, arg in enumerate(argv) if arg == flag]
    assert len(positions) == 1, f"expected {flag} once in {argv}"
    return argv[positions[0] + 1]
