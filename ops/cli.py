"""The `leximind` command: index, ask, search, serve, the bots, data, label, model, retrain,
scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from core.errors import LeximindError
from core.types import Question, Source
from ops.cli_support import TextArguments, console, kb_name
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings
from ops.data_cli import data_app
from ops.label_cli import label_app
from ops.memory_cli import import_answers_command, memory_app
from ops.model_cli import model_app, retrain_command
from ops.scheduler_cli import scheduler_app
from ops.schemas import ask_response, source_out
from ops.store_cli import store_app

# Heavier modules are imported by the commands that use them: `leximind --help` stays fast,
# and `leximind index` does not load the HTTP client, the schemas or the Markdown renderer.
if TYPE_CHECKING:
    from collections.abc import Callable

    from ops.metrics import Metrics
    from ops.settings import Settings
    from ops.wiring import Services

app = typer.Typer(
    help="Leximind answers questions about an open-source project, with citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=TextArguments,
)
app.add_typer(label_app, name="label")
app.add_typer(data_app, name="data")
app.add_typer(store_app, name="store")
github = typer.Typer(help="The GitHub adapter.", no_args_is_help=True)
app.add_typer(github, name="github")
github.command("import-answers")(import_answers_command)
app.add_typer(memory_app, name="memory")
app.add_typer(model_app, name="model")
app.add_typer(scheduler_app, name="scheduler")
app.command("retrain")(retrain_command)


def _services(settings: Settings | None = None) -> Services:
    # Imported here so that `leximind --help` does not pay for loading the store and model.
    # The imports create some 100,000 objects that live as long as this short process: the
    # cyclic collector is paused while they are made, then told to skip them for good,
    # which saves about 0.3 s of scanning them, at exit included.
    gc.disable()
    try:
        from ops.wiring import build_services

        return build_services(settings or _settings())
    finally:
        gc.freeze()
        gc.enable()


class _Bars:
    """IndexProgress drawn as two rich progress bars: files read, chunks embedded."""

    def __init__(self, progress: Progress) -> None:
        self._p = progress
        self._files: TaskID | None = None
        self._chunks: TaskID | None = None

    def files(self, total: int) -> None:
        self._files = self._p.add_task("files ", total=total)

    def file_done(self) -> None:
        if self._files is not None:
            self._p.advance(self._files)

    def chunks(self, total: int) -> None:
        self._chunks = self._p.add_task("chunks", total=total)

    def chunks_done(self, count: int) -> None:
        if self._chunks is not None:
            self._p.advance(self._chunks, count)


@app.command()
def index(
    source: Annotated[str, typer.Argument(help="a folder, a git repository or a git URL")],
    kb: Annotated[str | None, typer.Option(help="knowledge base name", callback=kb_name)] = None,
) -> None:
    """Index (or re-index incrementally) a repository's docs and code."""
    from rag.sources import read_tree, resolve

    svc = _services()
    name = kb or svc.settings.default_kb
    try:
        root = resolve(source, clones_dir=svc.clones_dir)
        tree = read_tree(root, max_bytes=svc.settings.index.max_file_bytes)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            report = svc.indexer.index(tree, kb=name, source=source, progress=_Bars(progress))
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
    console.print(
        f"[bold]{name}[/bold]: {report.files_indexed} files ({report.files_changed} changed, "
        f"{report.files_unchanged} unchanged, {report.files_deleted} deleted); "
        f"{report.chunks_total} chunks, {report.chunks_embedded} embedded, "
        f"{report.chunks_reused} reused, {report.chunks_removed} removed "
        f"in {report.seconds:.1f} s"
    )
    if skipped:
        console.print(f"skipped: {skipped}")
    if report.left_out:
        left = ", ".join(f"{n} {reason}" for reason, n in sorted(report.left_out.items()))
        console.print(
            f"left out: {left}; the main language is {report.main_language or 'unknown'}, "
            "LEXIMIND_INDEX__LANGUAGES adds others (e.g. de,es or all)"
        )
    if not report.changed:
        console.print("Nothing changed: no passage needed embedding.")


def _print_sources(sources: list[Source]) -> None:
    table = Table("#", "source", "lines", "score", show_edge=False)
    for n, s in enumerate(sources, start=1):
        where = f"{s.chunk.path} — {s.chunk.title}" + (f"\n{s.url}" if s.url else "")
        table.add_row(str(n), where, f"{s.chunk.start_line}-{s.chunk.end_line}", f"{s.score:.2f}")
    console.print(table)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    kb: Annotated[str | None, typer.Option(help="knowledge base", callback=kb_name)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Answer a question with cited sources."""
    import asyncio

    from rich.markdown import Markdown

    svc = _services()
    try:
        answer = asyncio.run(svc.answers.answer(Question(text=question, kb=kb, platform="cli")))
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        console.print_json(json.dumps(ask_response(answer).model_dump()))
        return
    console.print(Markdown(answer.text))
    label = "abstained" if answer.abstained else answer.model
    console.print(f"\n[dim]{label} · confidence {answer.confidence:.2f}[/dim]")
    checked = answer.grounding
    if checked is not None and checked.fallback is not None:
        console.print(f"[dim]{escape(checked.model)}'s answer not sent: {checked.reason}[/dim]")
    _print_sources(list(answer.sources))


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="how many passages")] = 5,
    kb: Annotated[str | None, typer.Option(help="knowledge base", callback=kb_name)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show the best passages for a question."""
    import asyncio

    svc = _services()
    try:
        found = asyncio.run(svc.answers.search(question, kb=kb, k=k))
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        console.print_json(json.dumps({"sources": [source_out(s).model_dump() for s in found]}))
    else:
        _print_sources(found)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Run the HTTP API (FastAPI + uvicorn)."""
    import uvicorn

    uvicorn.run(
        "ops.api:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )


@app.command("discord")
def discord_bot() -> None:
    """Run the Discord bot: answers @mentions and /leximind, records reactions as feedback."""
    settings = _settings()
    token = settings.discord.token
    if token is None:
        raise _fail("LEXIMIND_DISCORD__TOKEN is not set; see docs/bots.md for the setup")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the client closes on its way out
        asyncio.run(_run_discord(_services(settings), token.get_secret_value()))


async def _run_discord(svc: Services, token: str) -> None:
    import discord

    from ops.metrics import Metrics
    from ops.wiring import build_bot_kit, build_discord_client

    metrics = Metrics()
    metrics.watch_spool(svc.spooled_writer)
    kit = build_bot_kit(svc, metrics=metrics)
    client = build_discord_client(svc, kit)
    metrics.gateway_connected.set_function(
        lambda: 1.0 if client.is_ready() and not client.is_closed() else 0.0
    )
    stop_metrics = _serve_metrics(svc.settings, metrics)
    try:
        async with client:
            await client.start(token)
    except discord.LoginFailure as exc:
        raise _fail(
            "Discord refused LEXIMIND_DISCORD__TOKEN; reset it in the Developer Portal"
        ) from exc
    finally:
        stop_metrics()
        kit.close()
        await svc.aclose()


def _serve_metrics(settings: Settings, metrics: Metrics) -> Callable[[], None]:
    """Serves the process's metrics on LEXIMIND_METRICS__PORT; a no-op stop when it is unset."""
    from ops.metrics import serve_metrics

    where = settings.metrics
    if where.port is None:
        return lambda: None
    try:
        return serve_metrics(metrics.registry, host=where.host, port=where.port)
    except OSError as exc:
        raise _fail(f"cannot serve metrics on {where.host}:{where.port}: {exc}") from exc


@github.command("poll-reactions")
def poll_reactions() -> None:
    """Record the reactions on the bot's recent GitHub answers as feedback, once."""
    from ops.wiring import build_bot_kit, build_reaction_poller

    svc = _services()
    if not svc.settings.github.signs_in:
        raise _fail("set LEXIMIND_GITHUB__TOKEN, or __APP_ID and __PRIVATE_KEY")
    kit = build_bot_kit(svc)
    poller = build_reaction_poller(svc, kit)
    try:
        report = asyncio.run(poller.poll())
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    finally:
        poller.close()
        kit.close()
    console.print(
        f"{report.comments} answers checked ({report.unchanged} unchanged): "
        f"{report.recorded} reactions recorded, {report.retracted} retracted"
    )
    if report.failed:
        raise _fail(f"{len(report.failed)} answers could not be read; they are retried next run")


@app.command()
def slack(
    socket: Annotated[bool, typer.Option("--socket", help="connect over Socket Mode")] = False,
) -> None:
    """Run the Slack bot over Socket Mode (HTTP mode runs inside `leximind serve`)."""
    if not socket:
        raise _fail(
            "HTTP mode is served by `leximind serve` at POST /slack/events; "
            "use `leximind slack --socket` for Socket Mode"
        )
    settings = _settings()
    if not settings.slack.socket_enabled:
        raise _fail("Socket Mode needs LEXIMIND_SLACK__BOT_TOKEN and LEXIMIND_SLACK__APP_TOKEN")
    asyncio.run(_slack_socket_mode(_services(settings)))


SHUTDOWN_DRAIN_SECONDS = 60.0


async def _slack_socket_mode(svc: Services) -> None:
    from ops.background import TaskTracker
    from ops.wiring import build_bot_kit, build_slack_bot

    app_token = svc.settings.slack.app_token
    assert app_token is not None  # checked by the caller
    kit = build_bot_kit(svc)
    tasks = TaskTracker()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bot = build_slack_bot(svc, kit, tasks)
    try:
        await bot.serve_socket_mode(app_token.get_secret_value(), stop=stop)
    finally:
        await tasks.drain(SHUTDOWN_DRAIN_SECONDS)  # answers already accepted still go out
        await bot.aclose()
        kit.close()
        await svc.aclose()


if __name__ == "__main__":
    app()
