"""`leximind memory list|show|delete|sync` and `leximind github import-answers`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from core.errors import LeximindError
from ops.cli_support import console, kb_name, with_services, with_services_sync
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings

if TYPE_CHECKING:
    from core.endorsements import CurationReport
    from ops.settings import Settings
    from ops.wiring import Process
    from rag.memory import IndexedAnswerMemory

T = TypeVar("T")

memory_app = typer.Typer(
    help="The answer memory: endorsed answers that lead answers to similar questions.",
    no_args_is_help=True,
)


def _with_memory(settings: Settings, work: Callable[[IndexedAnswerMemory], T]) -> T:
    """`work` on the answer memory of the services `open_services` opens (and then closes)."""

    def on_memory(process: Process) -> T:
        assert process.services.memory is not None
        return work(process.services.memory)

    return with_services_sync("cli", on_memory, settings=settings)


KbOption = Annotated[str | None, typer.Option(help="knowledge base", callback=kb_name)]


@memory_app.command("list")
def list_command(kb: KbOption = None) -> None:
    """Every entry: id, source, when, who endorsed it, and its question."""
    settings = _settings()
    try:
        entries = _with_memory(settings, lambda memory: memory.entries(kb))
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    table = Table("kb", "id", "source", "endorsed", "by", "question")
    for e in entries:
        question = e.question.splitlines()[0] if e.question else ""
        table.add_row(
            e.kb, e.id, e.source.value, e.endorsed_at[:10], str(len(e.endorsed_by)), question
        )
    console.print(table)
    console.print(f"{len(entries)} entries")


@memory_app.command("show")
def show_command(entry_id: str, kb: KbOption = None) -> None:
    """One entry as JSON."""
    settings = _settings()
    try:
        entry = _with_memory(settings, lambda m: m.get(kb or settings.default_kb, entry_id))
    except (LeximindError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if entry is None:
        raise _fail(f"no memory entry {entry_id!r} in knowledge base {kb or settings.default_kb!r}")
    console.print_json(json.dumps(entry.to_record(), ensure_ascii=False))


@memory_app.command("delete")
def delete_command(entry_id: str, kb: KbOption = None) -> None:
    """Delete an entry from the object store and the index; it leads no answer any more.

    An entry from corrections or reactions comes back if the next correction or reaction
    endorses the answer again.
    """
    settings = _settings()
    try:
        existed = _with_memory(settings, lambda m: m.forget(kb or settings.default_kb, entry_id))
    except (LeximindError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if not existed:
        raise _fail(f"no memory entry {entry_id!r} in knowledge base {kb or settings.default_kb!r}")
    console.print(f"deleted {entry_id}")


@memory_app.command("sync")
def sync_command() -> None:
    """Settle every entry from the stored corrections and reactions, then re-index them all."""
    settings = _settings()
    try:
        report = sync_memory(settings)
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    console.print(report)


def sync_memory(settings: Settings) -> str:
    """Entries from corrections and reactions brought up to date, and the index rebuilt."""
    return _with_memory(settings, lambda memory: settle_memory(settings, memory))


def settle_memory(settings: Settings, memory: IndexedAnswerMemory) -> str:
    """`sync_memory` on the memory of services already open; what it did, in one line."""
    from ops.wiring.memory import build_curator

    report: CurationReport = build_curator(settings, memory).sync()
    kbs = sorted({e.kb for e in memory.entries()})
    indexed = sum(memory.reindex(kb)[0] for kb in kbs)
    return (
        f"remembered {report.remembered}, withdrawn {report.withdrawn}, "
        f"unchanged {report.unchanged}, interactions not found {report.missing}; "
        f"{indexed} entries indexed"
    )


def import_answers_command(
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="only issues updated on or after this day"),
    ] = None,
    kb: KbOption = None,
) -> None:
    """Learn from closed issues of LEXIMIND_MEMORY__GITHUB_REPOS whose accepted reply came
    from a maintainer (OWNER, MEMBER or COLLABORATOR)."""
    settings = _settings()
    repos = settings.memory.github_repos
    if not repos:
        raise _fail("no repositories to import from: set LEXIMIND_MEMORY__GITHUB_REPOS")
    if not settings.github.signs_in:
        raise _fail("GitHub is not configured: set LEXIMIND_GITHUB__TOKEN (or the App)")
    try:
        counts = with_services(
            "cli",
            lambda p: _import_answers(settings, p, repos, since, kb or settings.default_kb),
            settings=settings,
        )
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"imported {counts['imported']}, unchanged {counts['unchanged']}, "
        f"without a maintainer's answer {counts['unanswered']}"
    )


async def _import_answers(
    settings: Settings, process: Process, repos: list[str], since: datetime | None, kb: str
) -> dict[str, int]:
    from core.memory import github_entry

    memory = process.services.memory
    assert memory is not None
    api = process.github_api()
    counts = {"imported": 0, "unchanged": 0, "unanswered": 0}
    for repo in repos:
        installation = await api.installation_for(repo)
        for issue in await api.closed_issues(repo, since=since, installation=installation):
            entry = github_entry(issue, kb=kb)
            if entry is None:
                counts["unanswered"] += 1
            elif memory.get(kb, entry.id) == entry:
                counts["unchanged"] += 1
            else:
                await asyncio.to_thread(memory.remember, entry)
                counts["imported"] += 1
    return counts
