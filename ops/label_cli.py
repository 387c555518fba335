"""`leximind label export|import`: the Label Studio review loop from the command line."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import LeximindError
from ops.cli_support import console, with_services_sync
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings
from training.review.board import LabelStudioBoard
from training.review.loop import ExportReport, ImportReport, export_for_review, import_corrections

if TYPE_CHECKING:
    from ops.wiring import Process

label_app = typer.Typer(
    help="Review doubtful answers in Label Studio and bring the corrections back.",
    no_args_is_help=True,
)


@label_app.command("export")
def export_command(
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="only interactions asked on or after this day"),
    ] = None,
) -> None:
    """Send answers with negative feedback, and abstentions, to Label Studio as tasks."""
    from ops.wiring import build_label_studio

    settings = _settings()

    def export(process: Process) -> tuple[ExportReport, int]:
        with build_label_studio(settings.label_studio) as client:
            board = LabelStudioBoard.open(client, settings.label_studio.project)
            day = since.date() if since else None
            return export_for_review(process.objects, board, since=day), board.project_id

    report, project = with_services_sync("storage", export, settings=settings)
    _print_export(report, project=project)


def _print_export(report: ExportReport, *, project: int) -> None:
    console.print(
        f"exported {report.exported}, already there {report.already_queued} "
        f"(Label Studio project {project})"
    )
    if report.already_corrected:
        console.print(f"not sent again, already corrected: {report.already_corrected}")
    if report.missing:
        console.print(f"feedback on interactions not in the store: {report.missing}")
    if report.unreadable:
        console.print(f"[yellow]unreadable records ({len(report.unreadable)}):[/yellow]")
        for key in report.unreadable:
            console.print(f"  {key}", highlight=False)


@label_app.command("import")
def import_command() -> None:
    """Store the latest corrected answer of each reviewed task as a correction."""
    from ops.memory_cli import settle_memory
    from ops.wiring import build_label_studio

    settings = _settings()
    settles = settings.memory.enabled

    def read(process: Process) -> tuple[ImportReport, str | LeximindError | None]:
        with build_label_studio(settings.label_studio) as client:
            board = LabelStudioBoard.open(client, settings.label_studio.project)
            report = import_corrections(process.objects, board)
        if not settles:
            return report, None
        assert process.services.memory is not None
        try:
            return report, settle_memory(settings, process.services.memory)
        except LeximindError as exc:  # the corrections are stored: said after the summary
            return report, exc

    # One opening of the services: the answer memory's ("cli") when it is to be settled.
    report, memory = with_services_sync("cli" if settles else "storage", read, settings=settings)
    _print_import(report)
    if isinstance(memory, LeximindError):
        raise _fail(f"corrections stored, answer memory not updated: {memory}")
    if memory is not None:
        console.print(f"answer memory: {memory}")


def _print_import(report: ImportReport) -> None:
    console.print(f"imported {report.imported}, unchanged {report.unchanged}")
    if report.updated or report.kept_newer:
        console.print(
            f"updated {report.updated}, kept a newer stored correction {report.kept_newer}"
        )
    ignored = {
        "skipped": report.skipped,
        "without a corrected answer": report.empty,
        "on tasks Leximind did not create": report.foreign,
    }
    if any(ignored.values()):
        console.print(
            "ignored annotations: " + ", ".join(f"{n} {what}" for what, n in ignored.items() if n)
        )
