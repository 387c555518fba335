"""`leximind scheduler` (run the jobs) and `leximind scheduler status`."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ops.cli_support import console
from ops.cli_support import load_cli_settings as _settings

if TYPE_CHECKING:
    pass

scheduler_app = typer.Typer(
    help="Weekly retraining, spool drain, re-indexing and reaction polling on a schedule.",
    invoke_without_command=True,
)


@scheduler_app.callback(invoke_without_command=True)
def run_command(ctx: typer.Context) -> None:
    """Run the scheduler until SIGTERM or Ctrl-C (running jobs are waited for)."""
    if ctx.invoked_subcommand is not None:
        return
    from ops import jobs
    from ops.scheduler import run_scheduler

    settings = _settings()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    console.print(f"scheduler running on {settings.data_dir}; Ctrl-C stops it")
    if not settings.github.signs_in:
        console.print("GitHub is not configured: its reactions are not polled")
    poller = jobs.poll_github_reactions if settings.github.signs_in else None
    run_scheduler(settings, stop, reaction_poller=poller)


@scheduler_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Jobs, their next run times, the last runs' outcomes and the scheduler's heartbeat."""
    from ops.scheduler import scheduler_status

    settings = _settings()
    found, beat = scheduler_status(settings)
    if as_json:
        payload: dict[str, Any] = {
            "heartbeat": beat,
            "jobs": [
                {
                    "id": j.id,
                    "trigger": j.trigger,
                    "next_run": j.next_run.isoformat() if j.next_run else None,
                    "runs": j.runs,
                }
                for j in found
            ],
        }
        console.print_json(json.dumps(payload))
        return
    console.print(_heartbeat_line(beat))
    table = Table("job", "trigger", "next run", "last run", "outcome", show_edge=False)
    for j in found:
        last = j.runs[-1] if j.runs else None
        table.add_row(
            j.id,
            j.trigger,
            f"{j.next_run:%Y-%m-%d %H:%M:%S %Z}" if j.next_run else "-",
            last["started_at"] if last else "never",
            f"{last['status']}: {last['detail']}" if last else "",
        )
    console.print(table)


def _heartbeat_line(beat: dict[str, Any] | None) -> str:
    if not beat:
        return "no scheduler has run on this data dir yet"
    try:
        age = (datetime.now(UTC) - datetime.fromisoformat(str(beat["at"]))).total_seconds()
    except (KeyError, ValueError):
        return f"scheduler heartbeat unreadable: {beat}"
    return f"last scheduler heartbeat {age:.0f} s ago (pid {beat.get('pid')} on {beat.get('host')})"
