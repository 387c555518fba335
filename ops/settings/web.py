"""LEXIMIND_WEB__*: the web surface's section (web.config.WebSettings), its admin token a
RealSecret like every other secret of the settings."""

from __future__ import annotations

from pydantic import Field

from ops.settings.common import RealSecret
from web.config import WebSettings as WebSurfaceSettings


class WebSettings(WebSurfaceSettings):
    """The web surface's settings as the process reads them: LEXIMIND_WEB__ADMIN_TOKEN loses
    surrounding white space, is unset when empty and refused when a placeholder (the error
    names the variable, never the value), then must be at least 16 characters."""

    admin_token: RealSecret = Field(
        None, description="token for /admin; the dashboard is off without one"
    )
