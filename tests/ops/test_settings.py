"""Settings come from LEXIMIND_* variables, refuse bad values, and are all documented."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from ops.settings import Settings, SlackSettings
from tests.conftest import REPO_ROOT


def env_names(model: type[BaseModel], prefix: str = "LEXIMIND_") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= env_names(kind, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_in_env_example() -> None:
    """.env.example mentions every setting, and nothing that is not one."""
    text = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*(LEXIMIND_[A-Z_]+)=", text, flags=re.M))
    assert documented == env_names(Settings)


def test_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """LEXIMIND_LLM__BASE_URL style variables fill nested sections."""
    monkeypatch.setenv("LEXIMIND_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LEXIMIND_LLM__MODEL", "lora-7")
    monkeypatch.setenv("LEXIMIND_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("LEXIMIND_DATA_DIR", "/tmp/lexi")
    s = Settings(_env_file=None)
    assert (s.llm.base_url, s.llm.model, s.retrieval.top_k) == (
        "http://127.0.0.1:9/v1",
        "lora-7",
        7,
    )
    assert str(s.data_dir) == "/tmp/lexi"


@pytest.mark.parametrize(
    "env",
    [
        {"LEXIMIND_LLM__BASE_URL": "http://x/v1"},
        {"LEXIMIND_LLM__API_KEY": "changeme"},
        {"LEXIMIND_DEFAULT_KB": "no spaces allowed"},
        {"LEXIMIND_RETRIEVAL__TOP_K": "0"},
    ],
)
def test_bad_settings_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """A model URL without a model, a placeholder key, a bad kb name or top_k 0 fail fast."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_api_key_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API key is a secret: repr and dumps hide it."""
    monkeypatch.setenv("LEXIMIND_LLM__API_KEY", "sk-real-key-123")
    s = Settings(_env_file=None)
    assert "sk-real-key-123" not in repr(s) and "sk-real-key-123" not in s.model_dump_json()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEXIMIND_BOTS__ROUTES": '{"T1": "docs"}'}, "must start with slack:"),
        ({"LEXIMIND_BOTS__ROUTES": '{"slack:T1": "bad name"}'}, "invalid knowledge base"),
        ({"LEXIMIND_BOTS__USER_HASH_KEY": "not-hex"}, "hexadecimal"),
        ({"LEXIMIND_BOTS__USER_HASH_KEY": "abcd"}, "at least 32 hex digits"),
    ],
)
def test_bad_bot_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """Bot routes and the user hash key are checked at start-up."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None)


def test_bot_routes_and_emoji_lists_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routes and emoji sets are JSON in the environment."""
    monkeypatch.setenv("LEXIMIND_BOTS__ROUTES", '{"slack:T1/C2": "docs"}')
    monkeypatch.setenv("LEXIMIND_BOTS__POSITIVE_EMOJI", '["rocket"]')
    s = Settings(_env_file=None)
    assert s.bots.routes == {"slack:T1/C2": "docs"}
    assert s.bots.positive_emoji == ["rocket"]


SLACK_APP, SLACK_SECRET = "LEXIMIND_SLACK__APP_TOKEN", "LEXIMIND_SLACK__SIGNING_SECRET"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEXIMIND_SLACK__BOT_TOKEN": "xoxb-changeme", SLACK_APP: "xapp-1"}, "placeholder"),
        ({"LEXIMIND_SLACK__BOT_TOKEN": "xoxb-1", SLACK_SECRET: "changeme"}, "placeholder"),
        ({"LEXIMIND_SLACK__BOT_TOKEN": "xapp-1", SLACK_APP: "xapp-2"}, "start with 'xoxb-'"),
        ({"LEXIMIND_SLACK__BOT_TOKEN": "xoxb-1"}, "SIGNING_SECRET"),
        ({SLACK_SECRET: "s3cr3t-value"}, "BOT_TOKEN is required"),
        ({"LEXIMIND_SLACK__API_URL": "slack.com/api"}, "http"),
    ],
)
def test_bad_slack_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """Placeholder or mistyped Slack tokens and half a configuration fail at start-up."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None)


def test_slack_modes_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bot token + signing secret enable HTTP mode, + app token Socket Mode; secrets stay hidden."""
    monkeypatch.setenv("LEXIMIND_SLACK__BOT_TOKEN", "xoxb-123-real")
    monkeypatch.setenv("LEXIMIND_SLACK__SIGNING_SECRET", "f00dbabe-signing")
    monkeypatch.setenv("LEXIMIND_SLACK__API_URL", "http://127.0.0.1:9/api")
    s = Settings(_env_file=None)
    assert (s.slack.http_enabled, s.slack.socket_enabled) == (True, False)
    assert s.slack.api_url == "http://127.0.0.1:9/api/"
    dumped = repr(s) + s.model_dump_json()
    assert "xoxb-123-real" not in dumped and "f00dbabe-signing" not in dumped
    assert not SlackSettings().http_enabled
