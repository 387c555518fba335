"""The web surface's settings (LEXIMIND_WEB__*), a section of ops.settings.Settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator


class WebSettings(BaseModel):
    """The ask page, the widget and the dashboard served by `leximind serve`."""

    enabled: bool = Field(True, description="serve the ask page, widget.js and /admin")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description='JSON list of sites the widget may ask from, e.g. ["https://docs.example.org"]',
    )
    admin_token: SecretStr | None = Field(
        None, description="token for /admin; the dashboard is off without one"
    )
    secret_key: SecretStr | None = Field(
        None,
        description="hex key signing CSRF tokens and admin sessions (the same on every replica); "
        "default: generated in DATA_DIR/web",
    )
    ip_rate_limit: int = Field(
        30, ge=0, description="questions per client address per window, per process; 0: none"
    )
    ip_rate_window: float = Field(60.0, gt=0, description="seconds")
    dashboard_days: int = Field(30, gt=0, le=366, description="default period of /admin")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            parts = urlsplit(origin.strip())
            bare = parts.netloc and parts.path in ("", "/") and not parts.query
            if parts.scheme not in ("http", "https") or not bare:
                raise ValueError(
                    f"allowed origin {origin!r} must be scheme://host[:port], e.g. "
                    "https://docs.example.org"
                )
            cleaned.append(f"{parts.scheme}://{parts.netloc}".lower())
        return cleaned

    @field_validator("admin_token")
    @classmethod
    def _token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("LEXIMIND_WEB__ADMIN_TOKEN must be at least 16 characters")
        return token

    @field_validator("secret_key")
    @classmethod
    def _key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            try:
                raw = bytes.fromhex(key.get_secret_value())
            except ValueError:
                raise ValueError("LEXIMIND_WEB__SECRET_KEY must be hexadecimal") from None
            if len(raw) < 16:
                raise ValueError("LEXIMIND_WEB__SECRET_KEY must be at least 32 hex digits")
        return key
