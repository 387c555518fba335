"""Settings come from LEXIMIND_* variables, refuse bad values, and are all documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from ops.settings import Settings
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


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEXIMIND_GITHUB__WEBHOOK_SECRET": "s3cr3t-hook"}, "needs LEXIMIND_GITHUB__TOKEN"),
        (
            {"LEXIMIND_GITHUB__WEBHOOK_SECRET": "s3cr3t-hook", "LEXIMIND_GITHUB__TOKEN": "ghp_1"},
            "needs LEXIMIND_GITHUB__BOT_LOGIN",
        ),
        ({"LEXIMIND_GITHUB__WEBHOOK_SECRET": "changeme"}, "placeholder"),
        ({"LEXIMIND_GITHUB__TOKEN": "TODO"}, "placeholder"),
        ({"LEXIMIND_GITHUB__APP_ID": "12"}, "go together"),
        (
            {
                "LEXIMIND_GITHUB__TOKEN": "ghp_1",
                "LEXIMIND_GITHUB__APP_ID": "12",
                "LEXIMIND_GITHUB__PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\\nx\\n"
                "-----END PRIVATE KEY-----",
            },
            "not both",
        ),
        (
            {"LEXIMIND_GITHUB__APP_ID": "12", "LEXIMIND_GITHUB__PRIVATE_KEY": "missing.pem"},
            "neither PEM text nor a readable file",
        ),
    ],
)
def test_bad_github_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """The GitHub webhook needs a way to sign in and the bot's login; placeholders fail."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None)


def test_github_app_key_from_escaped_text_or_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The App key may be PEM text with `\\n` escapes or the path of a .pem file; it is secret."""
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
    monkeypatch.setenv("LEXIMIND_GITHUB__APP_ID", "12")
    monkeypatch.setenv("LEXIMIND_GITHUB__PRIVATE_KEY", pem.replace("\n", "\\n"))
    s = Settings(_env_file=None)
    assert s.github.private_key is not None
    assert s.github.private_key.get_secret_value() == pem
    assert "MIIB" not in repr(s)
    (tmp_path / "app.pem").write_text(pem)
    monkeypatch.setenv("LEXIMIND_GITHUB__PRIVATE_KEY", str(tmp_path / "app.pem"))
    assert Settings(_env_file=None).github.private_key.get_secret_value() == pem  # type: ignore[union-attr]
