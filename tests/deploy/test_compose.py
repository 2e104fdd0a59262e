"""docker-compose.yml agrees with the code: commands, settings, addresses, start order."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from temporalio.common import SearchAttributeIndexedValueType

from codec.server import create_app as create_codec_app
from contracts.ids import SEARCH_ATTRIBUTES
from devstack.components import (
    REPO_ROOT,
    SCRIPTS_DIR,
    TEMPORAL_BIN,
    api_argv,
    content_store_argv,
    results_argv,
    worker_argv,
)
from devstack.pieces import Config
from settings import Settings, load_settings
from tests.deploy.compose_file import (
    COMPOSE_FILE,
    OPERATOR_SETS,
    environment,
    flag_value,
    healthcheck_argv,
    kafka_listeners,
    load_compose,
    port_mappings,
    split_host_port,
)

APP_SERVICES = ("api", "worker", "results", "codec")
# The Kafka topic settings: kafka-setup creates each (the broker creates none by itself).
TOPIC_SETTINGS = ("kafka_topic", "kafka_results_topic", "kafka_batch_topic")
# How the Temporal CLI spells each search attribute type (`--type`).
CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
DEPENDENCY_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def settings_from(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings exactly as the container would read them: only its environment counts."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def http_urls(argv: list[str]) -> list[str]:
    return re.findall(r"http://[^\s'\"]+", " ".join(argv))


def created_topics(services: dict[str, dict[str, Any]]) -> list[str]:
    return environment(services["kafka-setup"])["TOPICS"].split()


# ------------------------------------------------------------------------------------------
# Every service can start
# ------------------------------------------------------------------------------------------


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_image_names_carry_no_registry_host(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            continue
        first, _, rest = image.partition("/")
        has_host = rest and ("." in first or ":" in first or first == "localhost")
        assert not has_host, f"{name}: {image} names a registry host"
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: {image} has no pinned tag"


def test_our_image_is_built_here(services: dict[str, dict[str, Any]]) -> None:
    for name in (*APP_SERVICES, "content-store"):
        assert services[name]["build"]["context"] == "."
    assert len({services[n]["image"] for n in (*APP_SERVICES, "content-store")}) == 1


def test_environment_values_are_strings(services: dict[str, dict[str, Any]]) -> None:
    # Compose refuses YAML booleans in `environment` and would reformat other numbers.
    for name, service in services.items():
        for key, value in environment(service).items():
            assert isinstance(value, str), f"{name}: {key}={value!r} must be quoted"


def test_bind_mounts_exist_in_the_repository(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


# ------------------------------------------------------------------------------------------
# Start order
# ------------------------------------------------------------------------------------------


def test_dependencies_exist_and_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for target, rule in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = rule["condition"]
            assert condition in DEPENDENCY_CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
            if condition == "service_completed_successfully":
                # A one-shot that restarts never counts as completed.
                assert services[target].get("restart", "no") == "no", target


def test_no_dependency_cycle(services: dict[str, dict[str, Any]]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for target in services[name].get("depends_on") or {}:
            visit(target, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


def waits_for(services: dict[str, dict[str, Any]], name: str) -> dict[str, str]:
    """Every service `name` waits for, directly or not, with the condition of the direct edge."""
    found: dict[str, str] = {}
    pending = [name]
    while pending:
        for target, rule in (services[pending.pop()].get("depends_on") or {}).items():
            if target not in found:
                found[target] = rule["condition"]
                pending.append(target)
    return found


def test_api_and_worker_start_after_temporal_is_set_up(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in APP_SERVICES:
        assert waits_for(services, name)["temporal-setup"] == "service_completed_successfully"
    worker_waits = waits_for(services, "worker")
    assert worker_waits["kafka-setup"] == "service_completed_successfully"
    assert worker_waits["content-store"] == "service_healthy"
    # The results consumer reads a topic kafka-setup creates.
    assert waits_for(services, "results")["kafka-setup"] == "service_completed_successfully"
    assert waits_for(services, "temporal")["temporal-schema"] == "service_completed_successfully"


# ------------------------------------------------------------------------------------------
# Commands are the ones the code runs
# ------------------------------------------------------------------------------------------


def test_api_command_is_devstacks(services: dict[str, dict[str, Any]]) -> None:
    expected = api_argv()
    assert Path(expected[0]).name == "hypercorn"
    assert services["api"]["command"] == ["hypercorn", *expected[1:]]


def test_worker_command_is_devstacks(services: dict[str, dict[str, Any]]) -> None:
    assert services["worker"]["command"] == ["python", *worker_argv()[1:]]


def test_content_store_command_is_devstacks(services: dict[str, dict[str, Any]]) -> None:
    command = services["content-store"]["command"]
    port = int(flag_value(command, "--port"))
    data_dir = flag_value(command, "--data-dir")
    expected = content_store_argv(port, Path(data_dir), "0.0.0.0")
    assert command == ["python", *expected[1:]]
    # Stored texts outlive the container.
    mounted = {str(v).split(":")[1] for v in services["content-store"].get("volumes") or []}
    assert data_dir in mounted


def test_results_command_is_devstacks(services: dict[str, dict[str, Any]]) -> None:
    assert services["results"]["command"] == ["python", *results_argv()[1:]]


@pytest.mark.parametrize("name", ["worker", "results"])
def test_worker_and_results_scale(services: dict[str, dict[str, Any]], name: str) -> None:
    # `--scale NAME=N` needs N containers with distinct names and no shared host port.
    service = services[name]
    assert "container_name" not in service
    assert "ports" not in service
    assert all("container_name" not in s for s in services.values())


# ------------------------------------------------------------------------------------------
# Settings: every variable is a real one, parses, and points where it should
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_variables_are_settings_and_parse(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(services[name])
    fields = {field.upper() for field in Settings.model_fields}
    assert set(env) <= fields, f"{name}: not settings: {sorted(set(env) - fields)}"
    settings_from(env, monkeypatch)  # raises SettingsError, naming the variable, if one is bad


def test_results_consumer_has_the_workers_temporal_and_kafka_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same namespace, the same broker and security, the same topic names the worker uses,
    # and the same payload keys (it reads the workflows' memos).
    worker = settings_from(environment(services["worker"]), monkeypatch)
    results = settings_from(environment(services["results"]), monkeypatch)
    shared = [
        name
        for name in Settings.model_fields
        if name.startswith(("temporal_", "kafka_")) or name == "payload_keys"
    ]
    assert {k: getattr(results, k) for k in shared} == {k: getattr(worker, k) for k in shared}
    assert results.payload_keys is not None
    assert results.kafka_results_group == Settings.model_fields["kafka_results_group"].default


def test_api_and_worker_share_temporal_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = settings_from(environment(services["api"]), monkeypatch)
    worker = settings_from(environment(services["worker"]), monkeypatch)
    shared = ("temporal_address", "temporal_namespace", "temporal_task_queue")
    assert [getattr(api, k) for k in shared] == [getattr(worker, k) for k in shared]


def test_temporal_address_reaches_the_frontend(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    temporal = services["temporal"]
    temporal_env = environment(temporal)
    frontend_port = int(temporal_env.get("FRONTEND_GRPC_PORT", "7233"))  # the image's default
    assert temporal_env["BIND_ON_IP"] == "0.0.0.0", "other containers could not connect"
    assert healthcheck_argv(temporal)[-1] == str(frontend_port)
    users = {name: environment(services[name]) for name in ("temporal-setup", "temporal-ui")}
    for name in APP_SERVICES:
        users[name] = {
            "TEMPORAL_ADDRESS": settings_from(
                environment(services[name]), monkeypatch
            ).temporal_address
        }
    for name, env in users.items():
        assert split_host_port(env["TEMPORAL_ADDRESS"]) == ("temporal", frontend_port), name


def test_kafka_bootstrap_is_an_advertised_plaintext_listener(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = [settings_from(environment(services[n]), monkeypatch) for n in ("worker", "results")]
    kafka_env = environment(services["kafka"])
    advertised = kafka_listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    bound = kafka_listeners(kafka_env["KAFKA_LISTENERS"])
    protocols = dict(
        p.split(":") for p in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    for bootstrap in (
        *(client.kafka_bootstrap_servers for client in clients),
        environment(services["kafka-setup"])["BOOTSTRAP_SERVER"],
    ):
        for address in bootstrap.split(","):
            host, port = split_host_port(address)
            assert host in services, f"{address}: no service named {host}"
            listener = [n for n, hp in advertised.items() if hp == (host, port)]
            assert listener, f"{address} is not one of kafka's advertised listeners"
            assert bound[listener[0]][1] == port, f"{listener[0]} listens elsewhere"
            # The worker and the results consumer have no TLS or SASL settings.
            assert protocols[listener[0]] == "PLAINTEXT"


def test_idempotence_is_on_for_apache_kafka(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert settings_from(environment(services["worker"]), monkeypatch).kafka_enable_idempotence


def test_kraft_without_zookeeper(services: dict[str, dict[str, Any]]) -> None:
    kafka_env = environment(services["kafka"])
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in kafka_env)


def test_content_service_url_reaches_the_content_store(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = urlparse(settings_from(environment(services["worker"]), monkeypatch).content_service_url)
    command = services["content-store"]["command"]
    assert url.hostname == "content-store"
    assert url.port == int(flag_value(command, "--port"))
    assert flag_value(command, "--host") == "0.0.0.0", "other containers could not connect"
    assert url.path == urlparse(Settings.model_fields["content_service_url"].default).path


def test_content_store_health_is_its_healthz(services: dict[str, dict[str, Any]]) -> None:
    store = services["content-store"]
    port = int(flag_value(store["command"], "--port"))
    (url,) = http_urls(healthcheck_argv(store))
    assert (urlparse(url).port, urlparse(url).path) == (port, "/healthz")


def test_api_port_is_published_and_checked(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = services["api"]
    settings = settings_from(environment(api), monkeypatch)
    assert settings.host == "0.0.0.0", "the published port would reach nothing"
    assert settings.port in {m.container_port for m in port_mappings(api) if m.host_port}
    (url,) = http_urls(healthcheck_argv(api))
    assert (urlparse(url).port, urlparse(url).path) == (settings.port, "/healthz")


# ------------------------------------------------------------------------------------------
# Temporal and Kafka are set up as the code expects
# ------------------------------------------------------------------------------------------


def test_search_attributes_are_exactly_the_workflows(
    services: dict[str, dict[str, Any]],
) -> None:
    registered = dict(
        pair.split("=", 1)
        for pair in environment(services["temporal-setup"])["TEMPORAL_SEARCH_ATTRIBUTES"].split()
    )
    expected = {key.name: CLI_TYPE_NAMES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    assert registered == expected


def test_namespace_and_retention_match_the_dev_stack(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_env = environment(services["temporal-setup"])
    api = settings_from(environment(services["api"]), monkeypatch)
    assert setup_env["TEMPORAL_NAMESPACE"] == api.temporal_namespace
    assert environment(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == (
        api.temporal_namespace
    )
    assert setup_env["TEMPORAL_RETENTION"] == Config.from_env({}).temporal_retention


def test_topics_created_are_the_settings_defaults(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = [Settings.model_fields[name].default for name in TOPIC_SETTINGS]
    assert created_topics(services) == defaults
    for name in ("worker", "results"):
        settings = settings_from(environment(services[name]), monkeypatch)
        assert [getattr(settings, topic) for topic in TOPIC_SETTINGS] == defaults, name


def test_kafka_setup_creates_every_topic(services: dict[str, dict[str, Any]]) -> None:
    # Its command loops over TOPICS, `$$` being compose's escape for the shell's `$`.
    setup = services["kafka-setup"]
    argv = setup["command"]
    assert argv[:2] == ["/bin/sh", "-euc"], "a failed create must fail the one-shot"
    script = argv[2]
    assert "for topic in $$TOPICS; do" in script
    assert '--topic "$$topic"' in script and "--create" in script
    assert "--if-not-exists" in script, "it runs again on every `up`"
    assert "$$BOOTSTRAP_SERVER" in script and "$$PARTITIONS" in script
    assert int(environment(setup)["PARTITIONS"]) > 1


def test_temporal_images_match_the_dev_server_the_tests_use(
    services: dict[str, dict[str, Any]],
) -> None:
    out = subprocess.run(
        [str(TEMPORAL_BIN), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Server (?P<server>[\d.]+), UI (?P<ui>[\d.]+)", out)
    assert match, f"unexpected `temporal --version` output: {out!r}"
    assert services["temporal"]["image"] == f"temporalio/server:{match['server']}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{match['ui']}"
    for name in ("temporal-schema", "temporal-setup"):
        assert services[name]["image"] == f"temporalio/admin-tools:{match['server']}"


def test_payloads_are_encrypted_and_the_ui_reads_them_through_the_codec(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in APP_SERVICES:
        assert "PAYLOAD_KEYS" in environment(services[name]), name
    codec = settings_from(environment(services["codec"]), monkeypatch)
    create_codec_app(codec)  # refuses to serve without the operator's token off loopback
    ui = environment(services["temporal-ui"])["TEMPORAL_CODEC_ENDPOINT"]
    published = [
        m for m in port_mappings(services["codec"]) if m.container_port == codec.codec_port
    ]
    assert published and ui == f"http://{published[0].host_ip}:{published[0].host_port}"
    assert published[0].host_ip == "127.0.0.1"


def test_the_published_api_needs_keys_and_limits_each_client(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["api"]["environment"]
    assert raw["API_KEYS"].startswith("${API_KEYS:?"), "an open API would be published"
    api = settings_from(environment(services["api"]), monkeypatch)
    assert api.key_ring() is not None and api.rate_limit_per_s > 0


@pytest.mark.parametrize(
    ("name", "port_setting"),
    [("worker", "worker_metrics_port"), ("results", "results_metrics_port")],
)
def test_a_health_check_on_its_metrics(
    services: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    port_setting: str,
) -> None:
    port = getattr(settings_from(environment(services[name]), monkeypatch), port_setting)
    probe = " ".join(healthcheck_argv(services[name]))
    assert port and f"127.0.0.1:{port}/metrics" in probe


def test_prometheus_scrapes_every_metrics_port_and_loads_the_alerts(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    config = yaml.safe_load((REPO_ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert mounts["/etc/prometheus/alerts.yml"] == "./deploy/prometheus/alerts.yml"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = settings_from(environment(services["api"]), monkeypatch)
    worker = settings_from(environment(services["worker"]), monkeypatch)
    assert jobs["api"]["static_configs"][0]["targets"] == [f"api:{api.api_metrics_port}"]
    assert jobs["worker"]["dns_sd_configs"][0] == {
        "names": ["worker"],
        "type": "A",
        "port": worker.worker_metrics_port,
    }
    results = settings_from(environment(services["results"]), monkeypatch)
    assert jobs["results"]["dns_sd_configs"][0] == {
        "names": ["results"],
        "type": "A",
        "port": results.results_metrics_port,
    }
    temporal_metrics = environment(services["temporal"])["PROMETHEUS_ENDPOINT"]
    assert jobs["temporal"]["static_configs"][0]["targets"] == [
        f"temporal:{temporal_metrics.rsplit(':', 1)[1]}"
    ]


def test_docker_compose_itself_accepts_the_file() -> None:
    # Compose v2's own parser and validator (its `config` needs no engine), with the secrets
    # an operator sets; without one, it refuses, naming it.
    compose = SCRIPTS_DIR / "docker-compose"
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    argv = [str(compose), "-f", str(COMPOSE_FILE), "config", "--quiet"]
    accepted = subprocess.run(
        argv, env={**environ, **OPERATOR_SETS}, capture_output=True, text=True, timeout=60
    )
    # (The wrapper around the Go binary exits 0 either way: its errors are on stderr.)
    assert accepted.returncode == 0 and not accepted.stderr.strip(), accepted.stderr
    missing = {k: v for k, v in OPERATOR_SETS.items() if k != "PAYLOAD_KEYS"}
    refused = subprocess.run(
        argv, env={**environ, **missing}, capture_output=True, text=True, timeout=60
    )
    assert "required variable PAYLOAD_KEYS is missing a value" in refused.stderr
