"""What every `leximind` sub-command shares: the consoles, settings loading and one-line errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console

if TYPE_CHECKING:
    from ops.settings import Settings

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Prints `error: message` to stderr; the caller raises the returned Exit (status 1)."""
    errors.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code=1)


def load_cli_settings() -> Settings:
    """Settings from the environment, with logging set up; invalid settings exit with status 1."""
    from ops.wiring import load_settings

    try:
        settings = load_settings()
    except ValidationError as exc:
        raise fail(f"invalid settings: {exc}") from exc
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return settings
