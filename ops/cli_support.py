"""What every `leximind` sub-command shares: the consoles, settings loading and one-line errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from typer.core import TyperGroup

from core.errors import LeximindError
from core.text import excerpt, validate_kb_name, validate_text

if TYPE_CHECKING:
    from ops.settings import Settings
    from ops.wiring import Process, Role

T = TypeVar("T")

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Prints `error: message` to stderr; the caller raises the returned Exit (status 1)."""
    errors.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code=1)


def load_cli_settings() -> Settings:
    """Settings from the environment, with logging set up; invalid settings exit with status 1."""
    from ops.settings.common import settings_errors
    from ops.wiring import load_settings

    try:
        settings = load_settings()
    except ValidationError as exc:
        raise fail(f"invalid settings: {settings_errors(exc)}") from exc
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return settings


@contextmanager
def _opened(role: Role, settings: Settings | None) -> Iterator[tuple[Process, asyncio.Runner]]:
    """ops.wiring.open_services_sync for a command: the settings from the environment unless
    given, and the garbage collector told to skip what the short process builds."""
    from ops.wiring import open_services_sync

    with open_services_sync(settings or load_cli_settings(), role, freeze=True) as opened:
        yield opened


def with_services(
    role: Role,
    work: Callable[[Process], Coroutine[Any, Any, T]],
    *,
    settings: Settings | None = None,
) -> T:
    """Awaits `work` inside `open_services(settings, role)`, which is closed after it; a
    LeximindError (NotConfigured included) exits with one line."""
    try:
        with _opened(role, settings) as (process, runner):
            return runner.run(work(process))
    except LeximindError as exc:
        raise fail(str(exc)) from exc


def with_services_sync(
    role: Role, work: Callable[[Process], T], *, settings: Settings | None = None
) -> T:
    """`with_services` for synchronous work (indexing, a report over the object store): it
    runs in this thread, outside any event loop, so Ctrl-C stops it at once."""
    try:
        with _opened(role, settings) as (process, _):
            return work(process)
    except LeximindError as exc:
        raise fail(str(exc)) from exc


class TextArguments(TyperGroup):
    """The root command group: refuses, with one line, any argument that is not text.

    Python hands a program argument that is not UTF-8 over with each bad byte as a lone
    surrogate; left alone it fails deep inside the tokenizer or a JSON encoder. Checked
    here, before any sub-command parses, it is one error for every command.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        for n, arg in enumerate(args, start=1):
            try:
                validate_text(arg, what=f"argument {n} ({excerpt(arg, 30)})")
            except ValueError as exc:
                raise fail(str(exc)) from None
        return super().parse_args(ctx, args)


def kb_name(value: str | None) -> str | None:
    """Typer callback of every --kb option: a valid knowledge-base name, or a usage error."""
    if value is None:
        return None
    try:
        return validate_kb_name(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
