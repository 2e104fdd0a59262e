import pytest

from settings import Settings, SettingsError, load_settings


def test_defaults_are_the_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
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
