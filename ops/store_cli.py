"""`leximind store`: move the embedded index into Weaviate."""

from __future__ import annotations

import contextlib
import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from core.errors import LeximindError
from ops.cli_support import console, kb_name, with_services_sync
from ops.cli_support import fail as _fail

if TYPE_CHECKING:
    from core.ports import ObjectStore
    from ops.settings import Settings
    from ops.wiring import Process
    from rag.migration import CopyReport

store_app = typer.Typer(help="The vector store: copy the embedded index.", no_args_is_help=True)


class Target(StrEnum):
    """Stores an index can be copied into."""

    WEAVIATE = "weaviate"


@store_app.command()
def migrate(
    to: Annotated[Target, typer.Option("--to", help="the store to copy into")],
    kb: Annotated[
        str | None, typer.Option(help="only this knowledge base (default: all)", callback=kb_name)
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="chunks per write")] = 500,
    prune: Annotated[
        bool, typer.Option(help="delete target chunks that the embedded index no longer has")
    ] = False,
) -> None:
    """Copy the embedded LanceDB index (DATA_DIR/lancedb) into Weaviate, vectors included.

    Nothing is re-embedded. Chunks already in Weaviate are skipped, so an interrupted run
    resumes when started again. The command ends by comparing chunk counts per knowledge
    base and exits with status 1 if any differ. With the s3 storage backend the catalog
    records of those knowledge bases (DATA_DIR/catalog.json) are copied to the shared
    catalog in the object store too, unless it holds a newer record.
    """
    from ops.wiring import load_settings

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")

    def copy(process: Process) -> list[CopyReport]:
        reports = _copy_index(settings, to, kbs=[kb] if kb else [], batch=batch, prune=prune)
        _print(reports, to.value)
        _copy_catalog(settings, process.objects, [r.kb for r in reports])
        return reports

    reports = with_services_sync("storage", copy, settings=settings)
    bad = [r for r in reports if not r.verified]
    if not reports:
        console.print("The embedded index is empty: nothing to copy.")
    if bad:
        raise _fail(
            "counts differ for "
            + ", ".join(f"{r.kb} ({r.source} embedded, {r.target} in {to.value})" for r in bad)
            + "; run again to resume, or with --prune if the target holds chunks that the "
            "embedded index no longer has"
        )


def _copy_index(
    settings: Settings, to: Target, *, kbs: list[str], batch: int, prune: bool
) -> list[CopyReport]:
    """Copies LanceDB into the target store; both are closed at the end."""
    from ops.wiring import build_vector_store
    from rag.migration import copy_index

    data_dir = settings.data_dir
    with contextlib.ExitStack() as stores:
        source = build_vector_store(settings.vector, data_dir=data_dir, backend="lancedb")
        stores.callback(source.close)
        target = build_vector_store(settings.vector, data_dir=data_dir, backend=to.value)
        stores.callback(target.close)
        try:
            return copy_index(
                source,
                target,
                kbs=kbs,
                batch=batch,
                prune=prune,
                on_batch=lambda name, n: console.print(
                    f"{name}: {n} chunks copied", highlight=False
                ),
            )
        except LeximindError as exc:
            raise _fail(f"{exc} (what was copied stays; run the command again to resume)") from exc


def _copy_catalog(settings: Settings, objects: ObjectStore, kbs: list[str]) -> None:
    """Copies this host's catalog records of `kbs` to the shared catalog, if one is used."""
    from ops.wiring import build_catalog, file_catalog
    from rag.migration import copy_catalog

    if settings.storage.backend != "s3" or not kbs:
        return
    local = file_catalog(settings.data_dir)
    shared = build_catalog(settings.storage, data_dir=settings.data_dir, objects=objects)
    try:
        copied = copy_catalog(local, shared, kbs=kbs)
    except LeximindError as exc:
        raise _fail(f"the catalog could not be copied: {exc} (run the command again)") from exc
    missing = [kb for kb in kbs if local.get(kb) is None]
    note = f"; none here for {', '.join(missing)} (index it again)" if missing else ""
    console.print(
        f"Shared catalog: {len(copied)} record(s) copied from {local.path}{note}", highlight=False
    )


def _print(reports: list[CopyReport], target: str) -> None:
    table = Table(
        "knowledge base", "embedded", "already there", "copied", target, "check", show_edge=False
    )
    for r in reports:
        table.add_row(
            r.kb,
            str(r.source),
            str(r.already_there),
            str(r.copied) + (f" ({r.pruned} pruned)" if r.pruned else ""),
            str(r.target),
            "ok" if r.verified else "[red]MISMATCH[/red]",
        )
    console.print(table)
