"""`leximind model canary-status`: champion and challenger side by side, from the logs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ops.cli_support import console, with_services
from ops.cli_support import load_cli_settings as _settings

if TYPE_CHECKING:
    from core.rollout import RolloutState
    from ops.wiring import Process
    from training.rollout_report import RolloutReport


def canary_status_command(
    hours: Annotated[
        float, typer.Option("--hours", min=0.01, help="how far back to look, in hours")
    ] = 24.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Per model over the last hours: questions routed to it, answers, abstentions, fallbacks,
    p50/p95 generation time and the positive-feedback rate (from the object store)."""
    from training.rollout_report import rollout_report

    settings = _settings()
    until = datetime.now(UTC)
    since = until - timedelta(hours=hours)

    async def read(process: Process) -> tuple[RolloutState, RolloutReport]:
        state = await process.rollout.read()
        objects = process.objects
        report = await asyncio.to_thread(rollout_report, objects, since=since, until=until)
        return state, report

    rollout, report = with_services("storage", read, settings=settings)
    champion = rollout.champion or settings.llm.model or "(no model)"
    rows = sorted(report.models.values(), key=lambda r: (-r.routed, r.model))
    if as_json:
        payload = {
            "since": since.isoformat(timespec="seconds"),
            "until": until.isoformat(timespec="seconds"),
            "champion": champion,
            "challenger": rollout.challenger,
            "share": rollout.share,
            "models": [r.to_record() for r in rows],
            "unreadable": report.unreadable,
        }
        console.print_json(json.dumps(payload))
        return
    console.print(f"champion: [bold]{champion}[/bold]")
    if rollout.challenger is not None:
        console.print(
            f"challenger: [bold]{rollout.challenger}[/bold] answers {rollout.share:.1%} of users"
        )
    else:
        console.print("challenger: (no canary running)")
    console.print(f"last {hours:g} h, since {since:%Y-%m-%d %H:%M} UTC")
    table = Table(
        "model", "routed", "answers", "abstained", "fallbacks", "p50 s", "p95 s", "+", "-",
        "positive", "checked", "not sent", show_edge=False,
    )  # fmt: skip
    for r in rows:
        rate = r.positive_rate
        table.add_row(
            r.model,
            str(r.routed),
            str(r.answers),
            str(r.abstained),
            str(r.fallbacks),
            _seconds(r.percentile(0.5)),
            _seconds(r.percentile(0.95)),
            str(r.positive),
            str(r.negative),
            _share(rate),
            str(r.checked),
            _share(r.grounding_fallback_rate),
        )
    if rows:
        console.print(table)
    else:
        console.print("no answers in this window")
    if report.unreadable:
        console.print(f"[yellow]{report.unreadable} unreadable records skipped[/yellow]")


def _share(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else ""


def _seconds(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else ""
