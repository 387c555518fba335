"""Settings of the bot layer and its Slack, Discord and GitHub adapters."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from bots.reactions import NEGATIVE_EMOJI, POSITIVE_EMOJI
from core.text import validate_kb_name
from ops.settings.common import RealSecret


class BotSettings(BaseModel):
    """What the Slack, Discord and GitHub adapters share."""

    routes: dict[str, str] = Field(
        default_factory=dict,
        description='JSON place -> knowledge base, e.g. {"slack:T1/C2": "docs", "github:o/r": "r"}',
    )
    rate_limit: int = Field(5, ge=0, description="questions per user per window; 0: no limit")
    rate_window: float = Field(60.0, gt=0, description="seconds")
    positive_emoji: list[str] = Field(default_factory=lambda: list(POSITIVE_EMOJI))
    negative_emoji: list[str] = Field(default_factory=lambda: list(NEGATIVE_EMOJI))
    user_hash_key: RealSecret = Field(
        None, description="hex key for hashing user ids; default: generated in DATA_DIR/bots"
    )
    retention_days: float = Field(30, gt=0, description="how long delivery ids are remembered")

    @field_validator("routes")
    @classmethod
    def _route_targets(cls, routes: dict[str, str]) -> dict[str, str]:
        for place, kb in routes.items():
            if ":" not in place:
                raise ValueError(f"route {place!r} must start with slack:, discord: or github:")
            validate_kb_name(kb)
        return routes

    @field_validator("user_hash_key")
    @classmethod
    def _hex_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            try:
                raw = bytes.fromhex(key.get_secret_value())
            except ValueError:
                raise ValueError("LEXIMIND_BOTS__USER_HASH_KEY must be hexadecimal") from None
            if len(raw) < 16:
                raise ValueError("LEXIMIND_BOTS__USER_HASH_KEY must be at least 32 hex digits")
        return key


class DiscordSettings(BaseModel):
    """The Discord bot run by `leximind discord`."""

    token: RealSecret = Field(None, description="bot token from the Developer Portal")
    guild_id: int | None = Field(
        None, gt=0, description="also register /leximind in this guild, where it appears at once"
    )
    sync_commands: bool = Field(True, description="register /leximind with Discord at start-up")

    @field_validator("token")
    @classmethod
    def _real_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None:
            return None
        value = token.get_secret_value()
        if value.lower().startswith("bot "):
            raise ValueError("LEXIMIND_DISCORD__TOKEN is the bare token, without 'Bot '")
        if any(ch.isspace() for ch in value):
            raise ValueError("LEXIMIND_DISCORD__TOKEN must not contain spaces")
        return token


class SlackSettings(BaseModel):
    """The Slack app: HTTP mode needs bot token and signing secret, Socket Mode the app token."""

    bot_token: RealSecret = Field(None, description="xoxb-... bot token")
    signing_secret: RealSecret = Field(None, description="verifies HTTP-mode requests")
    app_token: RealSecret = Field(None, description="xapp-... token for Socket Mode")
    api_url: str = Field("https://slack.com/api/", description="Web API base URL")
    timeout: float = Field(10.0, gt=0, description="seconds per Web API call")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("LEXIMIND_SLACK__API_URL must be an http(s) URL")
        return url if url.endswith("/") else url + "/"

    @model_validator(mode="after")
    def _complete(self) -> SlackSettings:
        for name, prefix in {"bot_token": "xoxb-", "app_token": "xapp-"}.items():
            secret: SecretStr | None = getattr(self, name)
            if secret is not None and not secret.get_secret_value().startswith(prefix):
                raise ValueError(f"LEXIMIND_SLACK__{name.upper()} must start with {prefix!r}")
        if (self.signing_secret or self.app_token) and not self.bot_token:
            raise ValueError("LEXIMIND_SLACK__BOT_TOKEN is required to answer on Slack")
        if self.bot_token and not (self.signing_secret or self.app_token):
            raise ValueError(
                "set LEXIMIND_SLACK__SIGNING_SECRET (HTTP mode) or LEXIMIND_SLACK__APP_TOKEN "
                "(Socket Mode) with LEXIMIND_SLACK__BOT_TOKEN"
            )
        return self

    @property
    def http_enabled(self) -> bool:
        """Whether `leximind serve` answers Slack events at POST /slack/events."""
        return self.bot_token is not None and self.signing_secret is not None

    @property
    def socket_enabled(self) -> bool:
        """Whether `leximind slack --socket` can connect."""
        return self.bot_token is not None and self.app_token is not None


class GitHubSettings(BaseModel):
    """The GitHub adapter: webhook secret, a token or a GitHub App, and the bot's login.

    The webhook is served when WEBHOOK_SECRET is set; then BOT_LOGIN and one way of signing
    in (TOKEN, or APP_ID with PRIVATE_KEY) are required. PRIVATE_KEY is the App's PEM text
    (literal `\\n` allowed) or the path of the .pem file GitHub gave you.
    """

    webhook_secret: RealSecret = None
    token: RealSecret = Field(None, description="personal or machine-user token")
    app_id: int | None = Field(None, gt=0)
    private_key: RealSecret = Field(None, description="PEM text or path to a .pem file")
    api_url: str = Field("https://api.github.com", description="REST API base URL")
    question_label: str = Field("question", min_length=1)
    bot_login: str | None = Field(None, description="the login the bot posts as")
    timeout: int = Field(15, gt=0, description="seconds per API request")
    retries: int = Field(10, ge=0, description="PyGithub retries (rate limits, 5xx); 0: none")
    seconds_between_requests: float = Field(0.25, ge=0, description="per API client")
    seconds_between_writes: float = Field(1.0, ge=0, description="per API client")
    concurrency: int = Field(8, gt=0, description="API calls in flight at once")
    reaction_window_days: float = Field(14, gt=0, description="answers polled for reactions")

    @model_validator(mode="after")
    def _complete(self) -> GitHubSettings:
        if (self.app_id is None) != (self.private_key is None):
            raise ValueError("LEXIMIND_GITHUB__APP_ID and LEXIMIND_GITHUB__PRIVATE_KEY go together")
        if self.token is not None and self.app_id is not None:
            raise ValueError(
                "set LEXIMIND_GITHUB__TOKEN or the App (APP_ID, PRIVATE_KEY), not both"
            )
        if self.private_key is not None:
            self.private_key = SecretStr(_pem(self.private_key.get_secret_value()))
        if self.webhook_secret is not None:
            if not self.signs_in:
                raise ValueError(
                    "the GitHub webhook needs LEXIMIND_GITHUB__TOKEN or __APP_ID and __PRIVATE_KEY"
                )
            if not self.bot_login:
                raise ValueError("the GitHub webhook needs LEXIMIND_GITHUB__BOT_LOGIN")
        return self

    @property
    def signs_in(self) -> bool:
        """Whether a token or an App key is configured."""
        return self.token is not None or self.app_id is not None


def _pem(value: str) -> str:
    """PEM text as given (escaped newlines restored), or read from the file it names."""
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError("LEXIMIND_GITHUB__PRIVATE_KEY is neither PEM text nor a readable file")
        text = path.read_text().strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n").strip()
    if not text.startswith("-----BEGIN") or "PRIVATE KEY-----" not in text:
        raise ValueError("LEXIMIND_GITHUB__PRIVATE_KEY is not a PEM private key")
    return text + "\n"
