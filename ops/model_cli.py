"""`leximind model list|promote|rollback` and `leximind retrain [--now]`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from core.errors import LeximindError
from ops.cli_support import console, errors
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings

if TYPE_CHECKING:
    from ops.settings import Settings
    from training.deploy import Deployer, Switch
    from training.ports import ModelRegistry

model_app = typer.Typer(
    help="Adapters in service: list versions, promote one, roll back.", no_args_is_help=True
)


def _registry(settings: Settings) -> ModelRegistry | None:
    """The model registry, or None (with a note) when it cannot be opened."""
    from ops.wiring import build_model_registry

    try:
        return build_model_registry(settings)
    except LeximindError as exc:
        errors.print(f"[yellow]model registry unavailable:[/yellow] {exc}", highlight=False)
        return None


@model_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Registered versions with their status and metrics, and the model serving now."""
    from ops.wiring import build_active_model
    from training.deploy_ledger import DeployLedger

    settings = _settings()
    serving = build_active_model(settings).current() or settings.llm.model or "(no model)"
    try:
        history = DeployLedger(settings.data_dir / "deploy").read().history
    except LeximindError as exc:
        raise _fail(str(exc)) from exc
    registry = _registry(settings)
    try:
        versions = registry.versions() if registry is not None else []
    except LeximindError as exc:
        errors.print(f"[yellow]model registry unavailable:[/yellow] {exc}", highlight=False)
        versions = []
    primary = f"test/{settings.deploy.primary_metric}"
    if as_json:
        rows = [
            {
                "version": v.version,
                "status": v.status.value,
                "created_at": v.created_at,
                "dataset_version": v.dataset_version,
                "metrics": dict(v.metrics),
                "reason": v.reason,
            }
            for v in versions
        ]
        rollback = history[-1] if history else None
        payload = {"serving": serving, "rollback_to": rollback, "versions": rows}
        console.print_json(json.dumps(payload))
        return
    console.print(f"serving: [bold]{serving}[/bold]")
    console.print(f"rollback to: {history[-1] if history else '(nothing earlier)'}")
    table = Table("version", "status", "created", "dataset", primary, "reason", show_edge=False)
    for v in versions:
        value = v.metrics.get(primary)
        table.add_row(
            v.version + (" *" if v.version == serving else ""),
            v.status.value,
            v.created_at,
            v.dataset_version,
            f"{value:.4f}" if value is not None else "",
            v.reason,
        )
    if versions:
        console.print(table)


@model_app.command("promote")
def promote_command(
    version: Annotated[str, typer.Argument(help="adapter version, e.g. leximind-20261129T020000Z")],
) -> None:
    """Load an adapter into vLLM, smoke-test it and make it the model every process uses."""
    settings = _settings()
    switch = _deploy(settings, lambda deployer: deployer.promote(version))
    _print_switch("promoted", switch)


@model_app.command("rollback")
def rollback_command() -> None:
    """Switch back to the model that served before the current one (still loaded)."""
    settings = _settings()
    switch = _deploy(settings, lambda deployer: deployer.rollback())
    _print_switch("rolled back to", switch)


def _deploy(settings: Settings, action: Callable[[Deployer], Awaitable[Switch]]) -> Switch:
    from ops.wiring import build_deployer, build_services

    services = build_services(settings)

    async def run() -> Switch:
        try:
            deployer = build_deployer(services, registry=_registry(settings))
            return await action(deployer)
        finally:
            await services.aclose()

    try:
        return asyncio.run(run())
    except LeximindError as exc:
        raise _fail(str(exc)) from exc


def _print_switch(verb: str, switch: Switch) -> None:
    console.print(f"{verb} [bold]{switch.active}[/bold] (before: {switch.previous})")
    if switch.unloaded:
        console.print("unloaded: " + ", ".join(switch.unloaded))


def retrain_command(
    now: Annotated[
        bool, typer.Option("--now", help="run here and now instead of queueing it")
    ] = False,
) -> None:
    """Retrain: queue a run for `leximind scheduler`, or with --now run it in this process."""
    from ops.jobs import RETRAIN, retrain_lock, retrain_once, run_job
    from ops.scheduler import HEARTBEAT_SECONDS, enqueue_retrain

    settings = _settings()
    if not now:
        job_id = enqueue_retrain(settings)
        console.print(
            f"queued {job_id}: a running `leximind scheduler` starts it within "
            f"{HEARTBEAT_SECONDS} s (`leximind scheduler status` shows the outcome)"
        )
        return
    result = run_job(RETRAIN, retrain_once, settings=settings, lock=retrain_lock)
    (console if result.ok else errors).print(result.detail, highlight=False)
    if not result.ok:
        raise typer.Exit(code=1)
