"""Reaching a Temporal cluster or Temporal Cloud: TLS, client certificates, API keys and
profiles through the SDK's environment configuration, with TEMPORAL_ADDRESS and
TEMPORAL_NAMESPACE still the settings they were.

The dev server has no TLS of its own, so a TLS-terminating proxy (tests/tls.py) stands in front
of it, with a CA made by the test, demanding a client certificate as a cluster with mTLS does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from devstack.components import REPO_ROOT
from settings import Settings
from temporal_client import TemporalConfigError, connect, connect_config
from tests.tls import SERVER_NAME, CertificateAuthority, TlsProxy


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path)


def mtls_environ(ca: CertificateAuthority, address: str) -> dict[str, str]:
    client = ca.issue("client", "huleedu-worker", server=False)
    return {
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca.pem.cert),
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(client.cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(client.key),
    }


async def test_a_client_reaches_temporal_over_mutual_tls(
    dev_env: WorkflowEnvironment, ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ca.issue("server", SERVER_NAME, server=True)
    target = dev_env.client.service_client.config.target_host
    async with TlsProxy(target, server, client_ca=ca.pem.cert) as proxy:
        for name, value in mtls_environ(ca, proxy.address).items():
            monkeypatch.setenv(name, value)
        client = await connect(Settings())
        workflow_id = f"tls-{uuid.uuid4()}"
        handle = await client.start_workflow("NoSuchType", id=workflow_id, task_queue="tq-none")
        described = await handle.describe()
        await handle.terminate("test over")
    assert described.id == workflow_id
    assert proxy.relayed >= 1  # it went through the proxy, so over TLS


async def test_without_its_client_certificate_the_connection_is_refused(
    dev_env: WorkflowEnvironment, ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ca.issue("server", SERVER_NAME, server=True)
    target = dev_env.client.service_client.config.target_host
    async with TlsProxy(target, server, client_ca=ca.pem.cert) as proxy:
        environ = mtls_environ(ca, proxy.address)
        del environ["TEMPORAL_TLS_CLIENT_CERT_PATH"], environ["TEMPORAL_TLS_CLIENT_KEY_PATH"]
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(RuntimeError, match="connect"):
            await connect(Settings())


async def test_a_server_the_ca_did_not_sign_is_refused(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs = CertificateAuthority(tmp_path / "ours"), CertificateAuthority(tmp_path / "x")
    server = theirs.issue("server", SERVER_NAME, server=True)
    target = dev_env.client.service_client.config.target_host
    async with TlsProxy(target, server) as proxy:
        environ = mtls_environ(ours, proxy.address)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(RuntimeError, match="connect"):
            await connect(Settings())


def test_an_api_key_turns_tls_on() -> None:
    config = connect_config(Settings(), {"TEMPORAL_API_KEY": "secret-key"})
    assert config["api_key"] == "secret-key"
    assert config["tls"] is True


def test_a_profile_file_gives_address_and_tls_unless_the_settings_are_given(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        "[profile.cloud]\n"
        'address = "team.a1b2c.tmprl.cloud:7233"\n'
        'namespace = "team.a1b2c"\n'
        "[profile.cloud.tls]\n"
        f'server_ca_cert_path = "{ca.pem.cert}"\n'
    )
    environ = {"TEMPORAL_CONFIG_FILE": str(profiles), "TEMPORAL_PROFILE": "cloud"}
    config = connect_config(Settings(), environ)
    assert (config["target_host"], config["namespace"]) == (
        "team.a1b2c.tmprl.cloud:7233",
        "team.a1b2c",
    )
    assert isinstance(config["tls"], TLSConfig)
    assert config["tls"].server_root_ca_cert == ca.pem.cert.read_bytes()
    # Settings given explicitly (TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE) win over the profile.
    given = Settings(temporal_address="10.0.0.5:7233", temporal_namespace="other")
    config = connect_config(given, environ)
    assert (config["target_host"], config["namespace"]) == ("10.0.0.5:7233", "other")


def test_a_missing_profile_is_a_configuration_error(tmp_path: Path) -> None:
    environ = {"TEMPORAL_CONFIG_FILE": str(tmp_path / "none.toml"), "TEMPORAL_PROFILE": "x"}
    with pytest.raises(TemporalConfigError, match="Temporal's connection configuration"):
        connect_config(Settings(), environ)


def test_the_worker_stops_at_start_up_naming_a_bad_profile(tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "none.toml"),
        "TEMPORAL_PROFILE": "cloud",
        "WORKER_METRICS_PORT": "0",
    }
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "worker: Temporal's connection configuration" in done.stderr, done.stderr
