"""`leximind data`: build the training datasets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ops.cli_support import console, with_services_sync

if TYPE_CHECKING:
    from ops.wiring import Process
    from training.build import DatasetVersion

data_app = typer.Typer(help="Training data: build dataset versions.", no_args_is_help=True)

_Dir = Annotated[
    Path | None, typer.Option(file_okay=False, help="default: from settings", show_default=False)
]


@data_app.command()
def build(
    codeqa: _Dir = None,
    conala: _Dir = None,
    feedback: Annotated[
        bool | None,
        typer.Option("--feedback/--no-feedback", help="add labelled feedback from the store"),
    ] = None,
    out: _Dir = None,
    seed: Annotated[int | None, typer.Option(help="shuffle and split seed")] = None,
    upload: Annotated[
        bool, typer.Option("--upload/--no-upload", help="copy the version to the object store")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False,
) -> None:
    """Build an Alpaca dataset version (train/test split without leakage) and publish it."""
    from ops.wiring import dataset_spec, load_settings
    from training.build import build_dataset

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    spec = dataset_spec(
        settings, codeqa=codeqa, conala=conala, out=out, feedback=feedback, seed=seed
    )
    store_needed = upload or spec.include_feedback

    def build(process: Process) -> DatasetVersion:
        store = process.objects if store_needed else None
        return build_dataset(spec, store=store, upload=upload)

    version = with_services_sync("storage", build, settings=settings)
    if as_json:
        console.print_json(json.dumps(version.manifest))
    else:
        print_summary(version)


def print_summary(version: DatasetVersion) -> None:
    """The manifest as a table per source, then totals and where the files are."""
    m = version.manifest
    table = Table("source", "read", "dropped", "duplicates", "train", "test", show_edge=False)
    for name, c in m["sources"].items():
        table.add_row(
            name,
            str(c["read"]),
            _reasons(c["dropped"]),
            str(c["duplicates"]),
            str(c["train"]),
            str(c["test"]),
        )
    t = m["totals"]
    table.add_row(
        "[bold]total[/bold]",
        str(t["read"]),
        _reasons(t["dropped"]),
        str(t["duplicates"]),
        str(t["train"]),
        str(t["test"]),
    )
    console.print(f"[bold]dataset {m['version']}[/bold] in {version.path}")
    console.print(table)
    console.print(
        f"groups: {t['groups_train']} train, {t['groups_test']} test; "
        f"seed {m['seed']}, test ratio {m['test_ratio']}; {m['seconds']:.1f} s"
    )
    if "feedback" in m:
        console.print("feedback: " + (_reasons(m["feedback"]) if m["feedback"] else "none"))
    if version.uploaded:
        console.print(f"uploaded to datasets/{m['version']}/ in the object store")


def _reasons(counts: dict[str, Any]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.items()) or "0"
