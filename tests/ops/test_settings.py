"""Settings come from LEXIMIND_* variables, refuse bad values, and are all documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel, ValidationError

from ops.cli_support import load_cli_settings
from ops.settings import Settings, SlackSettings
from ops.settings.common import is_placeholder, settings_errors
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
    documented = set(re.findall(r"^#?\s*(LEXIMIND_[A-Z0-9_]+)=", text, flags=re.M))
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
        {"LEXIMIND_STORAGE__BACKEND": "s3"},
        {"LEXIMIND_STORAGE__BACKEND": "s3", "LEXIMIND_STORAGE__ENDPOINT": "minio:9000"},
        {"LEXIMIND_STORAGE__BACKEND": "gcs"},
        {"LEXIMIND_STORAGE__SECRET_KEY": "minioadmin"},
        {"LEXIMIND_STORAGE__SECRET_KEY": "changeme"},
        {"LEXIMIND_STORAGE__ACCESS_KEY": "minioadmin"},
        {"LEXIMIND_STORAGE__ENDPOINT": "http://minio:9000"},
        {"LEXIMIND_STORAGE__BUCKET": "Leximind_Data"},
        {"LEXIMIND_STORAGE__READ_TIMEOUT": "0"},
        {"LEXIMIND_VECTOR__BACKEND": "weaviate"},
        {"LEXIMIND_VECTOR__BACKEND": "qdrant"},
        {"LEXIMIND_VECTOR__WEAVIATE_URL": "weaviate:8080"},
        {"LEXIMIND_VECTOR__WEAVIATE_URL": "http://weaviate:8080/v1"},
        {"LEXIMIND_VECTOR__WEAVIATE_API_KEY": "changeme"},
        {"LEXIMIND_VECTOR__WEAVIATE_COLLECTION": "lower_case"},
        {"LEXIMIND_VECTOR__WEAVIATE_ALPHA": "1.5"},
        {"LEXIMIND_VECTOR__WEAVIATE_FUSION_TYPE": "average"},
        {"LEXIMIND_VECTOR__WEAVIATE_GRPC_PORT": "70000"},
    ],
)
def test_bad_settings_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """Incomplete model or S3 settings, placeholder keys, bad names or limits fail fast."""
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
    ("token", "message"),
    [("changeme", "placeholder"), ("Bot abc.def.ghi", "without 'Bot '"), ("abc def", "spaces")],
)
def test_bad_discord_tokens_are_refused(
    monkeypatch: pytest.MonkeyPatch, token: str, message: str
) -> None:
    """A placeholder, a token with the 'Bot ' prefix or with spaces fails at start-up."""
    monkeypatch.setenv("LEXIMIND_DISCORD__TOKEN", token)
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEXIMIND_LABEL_STUDIO__URL": "http://ls:8080"}, "TOKEN is required"),
        ({"LEXIMIND_LABEL_STUDIO__TOKEN": "changeme"}, "placeholder"),
        ({"LEXIMIND_LABEL_STUDIO__PROJECT": ""}, "at least 1 character"),
    ],
)
def test_bad_label_studio_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """A Label Studio URL without a token, a placeholder token or an empty project fail fast."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None)


def test_discord_settings_keep_the_token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is trimmed and hidden; an empty one counts as unset; the guild id is a number."""
    monkeypatch.setenv("LEXIMIND_DISCORD__TOKEN", " MTIz.real.token ")
    monkeypatch.setenv("LEXIMIND_DISCORD__GUILD_ID", "123456789012345678")
    s = Settings(_env_file=None)
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "MTIz.real.token"
    assert "MTIz.real.token" not in repr(s) and "MTIz.real.token" not in s.model_dump_json()
    assert (s.discord.guild_id, s.discord.sync_commands) == (123456789012345678, True)
    monkeypatch.setenv("LEXIMIND_DISCORD__TOKEN", "")
    assert Settings(_env_file=None).discord.token is None


def test_label_studio_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Label Studio token is hidden from repr and dumps."""
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__URL", "http://ls:8080")
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__TOKEN", "f" * 40)
    s = Settings(_env_file=None)
    assert s.label_studio.url == "http://ls:8080"
    assert "f" * 40 not in repr(s) and "f" * 40 not in s.model_dump_json()


def test_s3_storage_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The s3 backend takes endpoint, keys, bucket and timeouts; the secret key stays hidden."""
    env = {
        "LEXIMIND_STORAGE__BACKEND": "s3",
        "LEXIMIND_STORAGE__ENDPOINT": "minio.internal:9000",
        "LEXIMIND_STORAGE__ACCESS_KEY": "leximind-app",
        "LEXIMIND_STORAGE__SECRET_KEY": "s3-real-secret-123",
        "LEXIMIND_STORAGE__SECURE": "false",
        "LEXIMIND_STORAGE__BUCKET": "leximind-prod",
        "LEXIMIND_STORAGE__READ_TIMEOUT": "10",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings(_env_file=None).storage
    assert (s.backend, s.endpoint, s.access_key, s.secure, s.bucket, s.read_timeout) == (
        "s3",
        "minio.internal:9000",
        "leximind-app",
        False,
        "leximind-prod",
        10.0,
    )
    assert s.secret_key is not None and s.secret_key.get_secret_value() == "s3-real-secret-123"
    assert "s3-real-secret-123" not in repr(s) and "s3-real-secret-123" not in s.model_dump_json()


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


def test_weaviate_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Weaviate backend reads its URL, port and key; a trailing slash is dropped."""
    monkeypatch.setenv("LEXIMIND_VECTOR__BACKEND", "weaviate")
    monkeypatch.setenv("LEXIMIND_VECTOR__WEAVIATE_URL", "https://weaviate.internal:8443/")
    monkeypatch.setenv("LEXIMIND_VECTOR__WEAVIATE_GRPC_PORT", "8444")
    monkeypatch.setenv("LEXIMIND_VECTOR__WEAVIATE_API_KEY", "wv-real-key-123")
    v = Settings(_env_file=None).vector
    assert (v.backend, v.weaviate_url, v.weaviate_grpc_port) == (
        "weaviate",
        "https://weaviate.internal:8443",
        8444,
    )
    assert "wv-real-key-123" not in repr(v)


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


S3 = {"LEXIMIND_STORAGE__BACKEND": "s3", "LEXIMIND_STORAGE__ENDPOINT": "minio.internal:9000"}
HOOK = {"LEXIMIND_GITHUB__WEBHOOK_SECRET": "hook-secret-123", "LEXIMIND_GITHUB__BOT_LOGIN": "bot"}
# Every secret setting: the settings that make it required (None: it never is), and a
# placeholder of the kind a template or a vendor's example holds.
SECRETS: dict[str, tuple[dict[str, str] | None, str]] = {
    "LEXIMIND_LLM__API_KEY": (None, "your-api-key"),
    "LEXIMIND_STORAGE__SECRET_KEY": (S3 | {"LEXIMIND_STORAGE__ACCESS_KEY": "app"}, "minioadmin"),
    "LEXIMIND_STORAGE__ACCESS_KEY": (
        S3 | {"LEXIMIND_STORAGE__SECRET_KEY": "s3-key-1"},
        "MINIOADMIN",
    ),
    "LEXIMIND_VECTOR__WEAVIATE_API_KEY": (None, "changeme"),
    "LEXIMIND_STATE__REDIS_URL": (None, "<your token>"),
    "LEXIMIND_BOTS__USER_HASH_KEY": (None, "change-me"),
    "LEXIMIND_DISCORD__TOKEN": (None, "xxxxxxxx"),
    "LEXIMIND_SLACK__BOT_TOKEN": ({SLACK_SECRET: "signing-1"}, "xoxb-changeme"),
    "LEXIMIND_SLACK__SIGNING_SECRET": ({"LEXIMIND_SLACK__BOT_TOKEN": "xoxb-1"}, "Secret"),
    "LEXIMIND_SLACK__APP_TOKEN": ({"LEXIMIND_SLACK__BOT_TOKEN": "xoxb-1"}, "xapp-CHANGE_ME"),
    "LEXIMIND_GITHUB__WEBHOOK_SECRET": (None, "TODO"),
    "LEXIMIND_GITHUB__TOKEN": (HOOK, "ghp_xxxxxxxxxxxx"),
    "LEXIMIND_GITHUB__PRIVATE_KEY": ({"LEXIMIND_GITHUB__APP_ID": "12"}, "Change_Me"),
    "LEXIMIND_LABEL_STUDIO__TOKEN": ({"LEXIMIND_LABEL_STUDIO__URL": "http://ls:8080"}, "password"),
    "LEXIMIND_WEB__ADMIN_TOKEN": (None, "changeme"),
}


def _refusal(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ValidationError:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    return refused.value


@pytest.mark.parametrize("variable", sorted(SECRETS))
def test_every_secret_refuses_a_placeholder_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """A placeholder secret fails at start-up; the error names the variable, never the value."""
    companions, placeholder = SECRETS[variable]
    exc = _refusal(monkeypatch, (companions or {}) | {variable: placeholder})
    line = settings_errors(exc)
    assert line.startswith(variable) and "placeholder" in line, line
    assert placeholder not in line and placeholder not in str(exc)


@pytest.mark.parametrize("variable", sorted(v for v, (needs, _) in SECRETS.items() if needs))
@pytest.mark.parametrize("empty", ["", "   "])
def test_a_required_secret_refuses_an_empty_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, empty: str
) -> None:
    """Where a secret is required, an empty or blank value fails like a missing one."""
    companions, _ = SECRETS[variable]
    assert companions is not None
    line = settings_errors(_refusal(monkeypatch, companions | {variable: empty}))
    assert variable in line, line


@pytest.mark.parametrize("variable", sorted(v for v, (needs, _) in SECRETS.items() if not needs))
def test_an_optional_secret_left_empty_is_unset(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """`LEXIMIND_X__KEY=` left empty in a .env file means the secret is not set."""
    monkeypatch.setenv(variable, " ")
    section, field = variable.removeprefix("LEXIMIND_").lower().split("__")
    assert getattr(getattr(Settings(_env_file=None), section), field) is None


def test_a_refused_setting_never_echoes_the_secrets_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A section refused as a whole (a Slack token of the wrong kind) hides every value in it."""
    exc = _refusal(
        monkeypatch,
        {
            "LEXIMIND_SLACK__BOT_TOKEN": "xoxb-real-bot-token-123",
            SLACK_SECRET: "real-signing-secret-456",
            SLACK_APP: "xoxb-not-an-app-token-789",
            "LEXIMIND_DISCORD__TOKEN": "Bot real.discord.token",
        },
    )
    shown = str(exc) + settings_errors(exc)
    assert "LEXIMIND_SLACK__APP_TOKEN must start with 'xapp-'" in shown
    assert "LEXIMIND_DISCORD__TOKEN is the bare token" in shown
    for secret in ("real-bot-token", "real-signing-secret", "not-an-app-token", "real.discord"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("changeme", True),
        ("xoxb-changeme", True),
        ("<your-api-key>", True),
        ("XXXX-XXXX", True),
        ("xoxb-1234-5678-AbCdEf", False),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", False),
        ("secretariat-2026", False),
        ("xerox", False),
    ],
)
def test_placeholders_are_told_from_real_values(value: str, placeholder: bool) -> None:
    """Template stand-ins are placeholders whatever their case, punctuation or token prefix."""
    assert is_placeholder(value) is placeholder


def test_the_cli_refuses_bad_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A command started with a placeholder secret exits 1 with one line naming the variable."""
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("LEXIMIND_LLM__API_KEY", "changeme")
    monkeypatch.setenv("LEXIMIND_SLACK__BOT_TOKEN", "xoxb-real-bot-token-123")
    with pytest.raises(typer.Exit) as exited:
        load_cli_settings()
    assert exited.value.exit_code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "LEXIMIND_LLM__API_KEY is a placeholder" in line
    assert "LEXIMIND_SLACK__SIGNING_SECRET" in line and "real-bot-token" not in line


def test_the_web_admin_token_is_a_secret_like_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trimmed, masked in the settings' repr and dumps, and still at least 16 characters."""
    monkeypatch.setenv("LEXIMIND_WEB__ADMIN_TOKEN", "  admin-token-0123456789  ")
    settings = Settings(_env_file=None)
    assert settings.web.admin_token is not None
    assert settings.web.admin_token.get_secret_value() == "admin-token-0123456789"
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "admin-token-0123456789" not in shown
    monkeypatch.setenv("LEXIMIND_WEB__ADMIN_TOKEN", "short-token")
    line = settings_errors(_refusal(monkeypatch, {}))
    assert "at least 16 characters" in line and "short-token" not in line
