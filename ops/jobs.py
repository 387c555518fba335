"""The scheduler's jobs: top-level functions, because the job store keeps them by reference.

Each job reads the settings of the process it runs in, opens what it needs with
ops.wiring.open_services (closed when the job ends), and records its outcome in
DATA_DIR/scheduler/runs (the last runs of every job, for `leximind scheduler status`). A job
never raises into the scheduler: its failure is logged and recorded. Retraining also takes an
inter-process lock, so two scheduler processes (or a scheduler and `leximind retrain --now`)
never train at the same time.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.storage.local import exclusive, write_atomically
from ops.settings import Settings

if TYPE_CHECKING:
    from bots.github.reactions import PollReport
    from ops.wiring import Services

_log = logging.getLogger(__name__)

RETRAIN = "retrain"
DRAIN = "drain-spool"
REINDEX = "reindex"
POLL_REACTIONS = "poll-reactions"
GAPS = "gap-issues"
HEARTBEAT = "heartbeat"
DEFAULT_BACKENDS = "ops.wiring:build_training_backends"
RUNS_KEPT = 20

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a job reports: ok or failed, a one-line summary, and details for the record."""

    detail: str
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)


_observers: list[Callable[[str, str], None]] = []


def on_run(observer: Callable[[str, str], None]) -> Callable[[], None]:
    """Calls `observer(job, status)` after every job run in this process (the scheduler's
    Prometheus metrics); returns the function that stops it."""
    _observers.append(observer)
    return lambda: _observers.remove(observer)


def scheduler_dir(settings: Settings) -> Path:
    """DATA_DIR/scheduler: job store, run records, locks and heartbeat."""
    return settings.data_dir / "scheduler"


class RunLog:
    """The last RUNS_KEPT outcomes of each job, one JSON file per job, shared by processes."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder / "runs"

    def record(self, job: str, run: dict[str, Any]) -> None:
        """Adds a run (newest last), under a lock so concurrent writers keep every run."""
        self._folder.mkdir(parents=True, exist_ok=True)
        with (self._folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                runs = [*self.runs(job), run]
                write_atomically(self._path(job), json.dumps(runs[-RUNS_KEPT:]).encode())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def runs(self, job: str) -> list[dict[str, Any]]:
        """The job's recorded runs, oldest first; an unreadable record is logged and skipped."""
        try:
            runs = json.loads(self._path(job).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            _log.error("cannot read the run record of %s: %s", job, exc)
            return []
        return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []

    def jobs(self) -> list[str]:
        """Jobs with recorded runs."""
        if not self._folder.is_dir():
            return []
        return sorted(p.stem for p in self._folder.glob("*.json"))

    def _path(self, job: str) -> Path:
        return self._folder / f"{job}.json"


def retrain_lock(settings: Settings) -> Path:
    """The lock file every retraining holds."""
    return scheduler_dir(settings) / "retrain.lock"


def run_job(
    name: str,
    body: Callable[[Settings], JobResult],
    *,
    settings: Settings | None = None,
    lock: Callable[[Settings], Path] | None = None,
) -> JobResult:
    """Runs `body` (under `lock` when given) and records the outcome; never raises."""
    if settings is None:
        from ops.wiring import load_settings

        settings = load_settings()
    started = datetime.now(UTC)
    try:
        with exclusive(lock(settings)) if lock else _always() as acquired:
            if not acquired:
                result, status = JobResult(f"another {name} is running", ok=False), SKIPPED
            else:
                result = body(settings)
                status = OK if result.ok else FAILED
    except Exception as exc:  # noqa: BLE001 -- the job boundary: the scheduler must go on
        _log.exception("job %s failed", name)
        result, status = JobResult(f"{type(exc).__name__}: {exc}", ok=False), FAILED
    run = {
        "job": name,
        "status": status,
        "detail": result.detail,
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 3),
        "pid": os.getpid(),
        **result.data,
    }
    try:
        RunLog(scheduler_dir(settings)).record(name, run)
    except OSError as exc:
        _log.error("could not record the run of %s: %s (%s)", name, exc, run)
    for observer in list(_observers):
        observer(name, status)
    _log.info("job %s %s: %s", name, status, result.detail)
    return result


@contextmanager
def _always() -> Iterator[bool]:
    yield True


def retrain(backends: str = DEFAULT_BACKENDS) -> None:
    """Scheduled retraining; `backends` names the function that builds trainer, tracker and
    registry from settings (module:function)."""
    run_job(RETRAIN, lambda settings: retrain_once(settings, backends), lock=retrain_lock)


def retrain_once(settings: Settings, backends: str = DEFAULT_BACKENDS) -> JobResult:
    """One run of the retraining pipeline in this process (the caller holds the lock)."""
    from apscheduler.util import ref_to_obj

    from ops.wiring import Process, build_retrain_pipeline, run_in_services
    from training.pipeline import RetrainOutcome

    async def run(process: Process) -> RetrainOutcome:
        built = ref_to_obj(backends)(settings, object_store=process.objects)
        return await build_retrain_pipeline(settings, process.services, built).run()

    outcome = run_in_services(settings, "cli", run)
    return JobResult(
        f"{outcome.status}: {outcome.version or '-'}: {outcome.reason}",
        ok=outcome.status != "failed",
        data={"outcome": outcome.to_dict()},
    )


def drain_spool() -> None:
    """Replays records spooled while the object store was down."""
    run_job(DRAIN, _drain)


def _drain(settings: Settings) -> JobResult:
    from ops.wiring import Process, run_in_services

    async def drain(process: Process) -> JobResult:
        replayed = await process.writer.drain()
        left = process.writer.status()["spool_depth"]
        return JobResult(f"{replayed} replayed, {left} left", ok=not process.writer.store_down)

    return run_in_services(settings, "storage", drain)


def reindex() -> None:
    """Incrementally re-indexes every knowledge base from the source it was indexed from."""
    run_job(REINDEX, _reindex)


def _reindex(settings: Settings) -> JobResult:
    from ops.wiring import Process, run_in_services

    async def run(process: Process) -> JobResult:
        return await asyncio.to_thread(_reindex_all, settings, process.services)

    return run_in_services(settings, "cli", run)


def _reindex_all(settings: Settings, services: Services) -> JobResult:
    from core.errors import LeximindError
    from rag.sources import read_tree, resolve

    done, failed = [], []
    for name in services.catalog.names():
        kb = services.catalog.get(name)
        if kb is None:
            continue
        try:
            root = resolve(kb.source, clones_dir=services.clones_dir)
            tree = read_tree(root, max_bytes=settings.index.max_file_bytes)
            report = services.indexer.index(tree, kb=name, source=kb.source)
        except LeximindError as exc:
            _log.error("re-index of %s failed: %s", name, exc)
            failed.append(f"{name}: {exc}")
            continue
        done.append(
            f"{name}: {report.files_changed} changed, {report.files_deleted} deleted, "
            f"{report.chunks_embedded} embedded"
        )
    return JobResult("; ".join(failed + done) or "no knowledge base indexed yet", ok=not failed)


def poll_github_reactions() -> None:
    """Records the reactions on the bot's recent GitHub answers as feedback."""
    run_job(POLL_REACTIONS, _poll_github_reactions)


def _poll_github_reactions(settings: Settings) -> JobResult:
    from ops.wiring import Process, run_in_services

    if not settings.github.signs_in:
        return JobResult("GitHub is not configured (LEXIMIND_GITHUB__TOKEN or __APP_ID)", ok=False)

    async def poll(process: Process) -> PollReport:
        assert process.reactions is not None
        return await process.reactions.poll()

    report = run_in_services(settings, "reactions", poll)
    detail = (
        f"{report.comments} answers checked ({report.unchanged} unchanged): "
        f"{report.recorded} reactions recorded, {report.retracted} retracted"
    )
    if report.failed:
        detail += f"; {len(report.failed)} could not be read (retried next run)"
    return JobResult(detail, ok=not report.failed)


def gap_issues() -> None:
    """Opens or updates the documentation-gaps issue of each knowledge base (ops.gaps_cli)."""
    run_job(GAPS, _gap_issues)


def _gap_issues(settings: Settings) -> JobResult:
    from ops.gaps_cli import issue_settings_problem, report_and_keep_issues

    problem = issue_settings_problem(settings)
    if problem:
        return JobResult(problem, ok=False)
    return JobResult(report_and_keep_issues(settings, days=settings.memory.gaps_days))


def heartbeat() -> None:
    """Notes that a scheduler is alive (and wakes it often enough to see jobs queued by
    `leximind retrain`)."""
    from ops.wiring import load_settings

    write_heartbeat(load_settings())


def write_heartbeat(settings: Settings) -> None:
    """Writes DATA_DIR/scheduler/heartbeat.json: this process, its host and the time."""
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        write_atomically(scheduler_dir(settings) / "heartbeat.json", json.dumps(record).encode())
    except OSError as exc:
        _log.error("could not write the scheduler heartbeat: %s", exc)
