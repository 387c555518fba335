"""The `leximind` command: index, ask, search, serve, the bots, data, label, model, retrain,
scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from core.errors import LeximindError
from core.types import Question, Source
from ops.cli_support import TextArguments, console, kb_name, with_services, with_services_sync
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings
from ops.data_cli import data_app
from ops.gaps_cli import gaps_command
from ops.label_cli import label_app
from ops.memory_cli import import_answers_command, memory_app
from ops.model_cli import model_app, retrain_command
from ops.scheduler_cli import scheduler_app
from ops.schemas import ask_response, source_out
from ops.store_cli import store_app

# Heavier modules are imported by the commands that use them: `leximind --help` stays fast,
# and `leximind index` does not load the HTTP client, the schemas or the Markdown renderer.
if TYPE_CHECKING:
    from collections.abc import Iterator

    from bots.github.reactions import PollReport
    from ops.metrics import Metrics
    from ops.settings import Settings
    from ops.wiring import Process, Services
    from rag.indexer import IndexReport

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
app.command("gaps")(gaps_command)
app.add_typer(model_app, name="model")
app.add_typer(scheduler_app, name="scheduler")
app.command("retrain")(retrain_command)


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

    settings = _settings()
    name = kb or settings.default_kb

    def run(svc: Services) -> IndexReport:
        root = resolve(source, clones_dir=svc.clones_dir)
        tree = read_tree(root, max_bytes=settings.index.max_file_bytes)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            return svc.indexer.index(tree, kb=name, source=source, progress=_Bars(progress))

    report = with_services_sync("cli", lambda p: run(p.services), settings=settings)
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
    from rich.markdown import Markdown

    asked = Question(text=question, kb=kb, platform="cli")
    answer = with_services("cli", lambda p: p.services.answers.answer(asked))
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
    found = with_services("cli", lambda p: p.services.answers.search(question, kb=kb, k=k))
    if as_json:
        console.print_json(json.dumps({"sources": [source_out(s).model_dump() for s in found]}))
    else:
        _print_sources(found)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Run the HTTP API (FastAPI + uvicorn)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _settings()  # invalid settings: one line here, not a traceback from every worker
    config = uvicorn.Config(
        "ops.api:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )
    # Bound here, before any service is built: a port in use is one line and exit 1.
    listening = _listening_socket(host, port)
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[listening]).run()
        else:
            server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        # uvicorn exits so when the application's start-up failed; ops.api logged why, in one
        # line (and uvicorn that it is exiting).
        raise typer.Exit(code=1) from exc
    finally:
        listening.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound to `host`:`port` (uvicorn's options); `cannot start` in one
    line when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _fail(f"cannot start: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)  # the workers' processes serve it
    bound = sock.getsockname()[1]
    logging.getLogger("uvicorn.error").info("listening on http://%s:%d", host, bound)
    return sock


@app.command("discord")
def discord_bot() -> None:
    """Run the Discord bot: answers @mentions and /leximind, records reactions as feedback."""
    settings = _settings()
    if settings.discord.token is None:  # said before anything is loaded
        raise _fail("LEXIMIND_DISCORD__TOKEN is not set; see docs/bots.md for the setup")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the client closes on its way out
        asyncio.run(_run_discord(settings))


async def _run_discord(settings: Settings) -> None:
    import discord

    from ops.metrics import Metrics
    from ops.wiring import open_services

    metrics = Metrics()
    try:
        async with open_services(settings, "discord", metrics=metrics) as process:
            client = process.discord
            assert client is not None and settings.discord.token is not None
            metrics.watch_spool(process.writer)
            metrics.gateway_connected.set_function(
                lambda: 1.0 if client.is_ready() and not client.is_closed() else 0.0
            )
            with _metrics_served(settings, metrics):
                await client.start(settings.discord.token.get_secret_value())
    except discord.LoginFailure as exc:
        raise _fail(
            "Discord refused LEXIMIND_DISCORD__TOKEN; reset it in the Developer Portal"
        ) from exc
    except LeximindError as exc:
        raise _fail(str(exc)) from exc


@contextlib.contextmanager
def _metrics_served(settings: Settings, metrics: Metrics) -> Iterator[None]:
    """Serves the process's metrics on LEXIMIND_METRICS__PORT while in the block; nothing
    when it is unset."""
    from ops.metrics import serve_metrics

    where = settings.metrics
    if where.port is None:
        yield
        return
    try:
        stop = serve_metrics(metrics.registry, host=where.host, port=where.port)
    except OSError as exc:
        raise _fail(f"cannot serve metrics on {where.host}:{where.port}: {exc}") from exc
    try:
        yield
    finally:
        stop()


@github.command("poll-reactions")
def poll_reactions() -> None:
    """Record the reactions on the bot's recent GitHub answers as feedback, once."""

    async def poll(process: Process) -> PollReport:
        assert process.reactions is not None
        return await process.reactions.poll()

    report = with_services("reactions", poll)
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
    with_services("slack", lambda process: _slack_socket_mode(settings, process), settings=settings)


async def _slack_socket_mode(settings: Settings, process: Process) -> None:
    """Serves Socket Mode until SIGINT or SIGTERM; closing `process` then lets the answers
    already accepted go out before the clients close."""
    app_token = settings.slack.app_token
    assert app_token is not None and process.slack is not None  # checked by the caller
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await process.slack.serve_socket_mode(app_token.get_secret_value(), stop=stop)


if __name__ == "__main__":
    app()
