import pytest

from settings import Settings, SettingsError, load_settings


def test_defaults_are_the_batch_service_specifications(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "HOST", "KAFKA_ENABLE_IDEMPOTENCE", "KAFKA_TOPIC"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.port == 5000
    assert s.host == "0.0.0.0"
    assert s.kafka_topic == "essay.spellcheck.requested.v1"
    assert s.kafka_enable_idempotence is True


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "6001")
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "false")
    monkeypatch.setenv("CONTENT_SERVICE_URL", "http://cs:8000/v1/content")
    s = Settings()
    assert (s.port, s.kafka_enable_idempotence) == (6001, False)
    assert s.content_service_url == "http://cs:8000/v1/content"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "fifty"),
        ("PORT", "70000"),
        ("KAFKA_ENABLE_IDEMPOTENCE", "maybe"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [("RATE_LIMIT_PER_S", "-1"), ("RATE_LIMIT_BURST", "0"), ("READINESS_TIMEOUT_S", "0")],
)
def test_bad_limits_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_a_bad_api_key_list_names_the_variable_and_hides_the_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = "portal:secret-0123456789abcdef"
    monkeypatch.setenv("API_KEYS", f"{good},other:tooshort")
    with pytest.raises(SettingsError, match="API_KEYS: .*entry 2") as caught:
        load_settings()
    assert "secret-0123456789abcdef" not in str(caught.value)
    assert "tooshort" not in str(caught.value)


def test_api_keys_unset_or_empty_means_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_KEYS", raising=False)
    assert load_settings().key_ring() is None
    monkeypatch.setenv("API_KEYS", "  ")
    assert load_settings().key_ring() is None
    monkeypatch.setenv("API_KEYS", "portal:secret-0123456789abcdef")
    settings = load_settings()
    assert settings.key_ring().identify("secret-0123456789abcdef") == "portal"
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": 9100, "api_metrics_port": 9100}, "must differ from PORT"),
        (
            {"temporal_task_queue": "q", "temporal_batch_task_queue": "q"},
            "must differ from TEMPORAL_TASK_QUEUE",
        ),
    ],
)
def test_settings_that_must_differ_are_refused_when_equal(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**values)
