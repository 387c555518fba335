"""The scheduler process: APScheduler 3.11 with its jobs in a SQLAlchemy job store.

Jobs (ops.jobs) are kept by reference in the store (SQLite in DATA_DIR/scheduler unless
LEXIMIND_SCHEDULER__DATABASE_URL names another database), so a restarted scheduler knows
when each one last ran: a run missed while it was down starts late when it is within
`misfire_grace`, and several missed runs coalesce into one. A job keeps its next run time
across restarts unless its trigger changed in the settings. `max_instances=1` keeps one run
of a job per process; retraining also holds a lock file (ops.jobs.retrain_lock), so two
scheduler processes on one data dir never train at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import obj_to_ref

from ops import jobs
from ops.settings import Settings

_log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30
ONE_OFF_PREFIX = "retrain-once-"
_PERIODIC = (jobs.RETRAIN, jobs.DRAIN, jobs.REINDEX, jobs.POLL_REACTIONS, jobs.HEARTBEAT, jobs.GAPS)
GAPS_CRON = "0 6 * * mon"  # the documentation-gaps issues, weekly


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A periodic job: its id, the function (module:function) and when it runs."""

    id: str
    func: str
    trigger: BaseTrigger
    kwargs: dict[str, Any] = field(default_factory=dict)

    def matches(self, job: Job) -> bool:
        """Whether a stored job is this one, so that its next run time can be kept."""
        zone = str(getattr(self.trigger, "timezone", ""))
        return (
            job.func_ref == self.func
            and dict(job.kwargs) == self.kwargs
            and str(job.trigger) == str(self.trigger)
            and str(getattr(job.trigger, "timezone", "")) == zone
        )


def job_store_url(settings: Settings) -> str:
    """The job store's SQLAlchemy URL."""
    url = settings.scheduler.database_url
    if url:
        return url
    folder = jobs.scheduler_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'jobs.sqlite3'}"


def _every(seconds: float, settings: Settings, now: datetime) -> IntervalTrigger:
    """Every `seconds`, first one interval after `now`."""
    return IntervalTrigger(
        seconds=seconds,
        timezone=settings.scheduler.timezone,
        start_date=now + timedelta(seconds=seconds),
    )


def job_specs(
    settings: Settings,
    *,
    backends: str = jobs.DEFAULT_BACKENDS,
    reaction_poller: Callable[[], object] | None = None,
    now: datetime | None = None,
) -> list[JobSpec]:
    """The periodic jobs the settings ask for; an interval of 0 leaves its job out.

    `reaction_poller` is registered by reference (a top-level function), when given. An
    interval job first runs one interval after `now` (default: the current time).
    """
    sch = settings.scheduler
    at = now or datetime.now(UTC)
    specs = [
        JobSpec(jobs.HEARTBEAT, obj_to_ref(jobs.heartbeat), _every(HEARTBEAT_SECONDS, settings, at))
    ]
    if sch.retrain_enabled:
        trigger: BaseTrigger = (
            _every(sch.retrain_interval, settings, at)
            if sch.retrain_interval
            else CronTrigger.from_crontab(sch.retrain_cron, timezone=sch.timezone)
        )
        kwargs = {} if backends == jobs.DEFAULT_BACKENDS else {"backends": backends}
        specs.append(JobSpec(jobs.RETRAIN, obj_to_ref(jobs.retrain), trigger, kwargs))
    if sch.drain_interval:
        drain = _every(sch.drain_interval, settings, at)
        specs.append(JobSpec(jobs.DRAIN, obj_to_ref(jobs.drain_spool), drain))
    if sch.reindex_interval:
        reindex = _every(sch.reindex_interval, settings, at)
        specs.append(JobSpec(jobs.REINDEX, obj_to_ref(jobs.reindex), reindex))
    if settings.memory.gaps_weekly and settings.memory.gaps_repo:
        weekly = CronTrigger.from_crontab(GAPS_CRON, timezone=sch.timezone)
        specs.append(JobSpec(jobs.GAPS, obj_to_ref(jobs.gap_issues), weekly))
    poll = reaction_poll_spec(settings, reaction_poller, now=at)
    if poll is not None:
        specs.append(poll)
    return specs


def reaction_poll_spec(
    settings: Settings, poller: Callable[[], object] | None = None, *, now: datetime | None = None
) -> JobSpec | None:
    """The reaction poller's job when there is a poller and an interval, else None.

    GitHub sends no webhook for reactions, so they are polled (ops.jobs.poll_github_reactions,
    which `leximind scheduler` passes when GitHub is configured).
    """
    interval = settings.scheduler.reaction_poll_interval
    if poller is None or not interval:
        return None
    trigger = _every(interval, settings, now or datetime.now(UTC))
    return JobSpec(jobs.POLL_REACTIONS, obj_to_ref(poller), trigger)


def _options(settings: Settings) -> dict[str, Any]:
    url = job_store_url(settings)
    # Several processes share a SQLite job store: wait for another's write instead of failing
    # with "database is locked" after SQLite's default 5 s.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return {
        "jobstores": {"default": SQLAlchemyJobStore(url=url, engine_options=engine)},
        "executors": {"default": ThreadPoolExecutor(max_workers=4)},
        "job_defaults": {
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(settings.scheduler.misfire_grace),
        },
        "timezone": settings.scheduler.timezone,
    }


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    """A scheduler over the job store, not started."""
    return BackgroundScheduler(**_options(settings))


class _StoreOnlyScheduler(BlockingScheduler):  # type: ignore[misc]
    """A scheduler that never runs a job: commands use it to read and queue jobs in the store.

    A paused BackgroundScheduler would not do: its thread processes due jobs once more while
    it shuts down.
    """

    def _main_loop(self) -> None:
        return


@contextmanager
def job_store(settings: Settings) -> Iterator[BlockingScheduler]:
    """The job store behind a scheduler that runs nothing (get_jobs, add_job, get_job)."""
    scheduler = _StoreOnlyScheduler(**_options(settings))
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def reconcile(scheduler: BaseScheduler, specs: list[JobSpec]) -> None:
    """Makes the stored periodic jobs those of `specs`: unchanged ones keep their next run
    time, changed ones are replaced, ones no longer wanted are removed."""
    wanted = {spec.id: spec for spec in specs}
    for job in scheduler.get_jobs():
        if job.id in _PERIODIC and job.id not in wanted:
            _log.info("removing job %s: no longer in the settings", job.id)
            job.remove()
    for spec in specs:
        stored = scheduler.get_job(spec.id)
        if stored is not None and spec.matches(stored):
            continue
        scheduler.add_job(
            spec.func,
            trigger=spec.trigger,
            id=spec.id,
            name=spec.id,
            kwargs=spec.kwargs,
            replace_existing=True,
        )


def run_scheduler(
    settings: Settings,
    stop: threading.Event,
    *,
    backends: str = jobs.DEFAULT_BACKENDS,
    reaction_poller: Callable[[], object] | None = None,
) -> None:
    """Runs the jobs until `stop` is set, then waits for running jobs to finish.

    Job outcomes are Prometheus metrics (ops.metrics.JobMetrics), served on
    LEXIMIND_METRICS__PORT when it is set.
    """
    from ops.metrics import JobMetrics, serve_metrics

    metrics = JobMetrics()
    forget = jobs.on_run(metrics.record)
    where = settings.metrics
    stop_serving = (
        serve_metrics(metrics.registry, host=where.host, port=where.port) if where.port else None
    )
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    try:
        reconcile(
            scheduler, job_specs(settings, backends=backends, reaction_poller=reaction_poller)
        )
        scheduler.resume()
        jobs.write_heartbeat(settings)
        for job in scheduler.get_jobs():
            _log.info("job %s: next run %s", job.id, job.next_run_time)
        stop.wait()
    finally:
        _log.info("stopping the scheduler; waiting for running jobs")
        scheduler.shutdown(wait=True)
        forget()
        if stop_serving is not None:
            stop_serving()


def enqueue_retrain(settings: Settings, *, backends: str = jobs.DEFAULT_BACKENDS) -> str:
    """Queues one retraining for the running scheduler (it starts within HEARTBEAT_SECONDS);
    returns the one-off job's id."""
    job_id = f"{ONE_OFF_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    with job_store(settings) as store:
        store.add_job(
            obj_to_ref(jobs.retrain),
            trigger="date",
            run_date=datetime.now(UTC),
            id=job_id,
            name="retrain (queued by leximind retrain)",
            kwargs={} if backends == jobs.DEFAULT_BACKENDS else {"backends": backends},
            misfire_grace_time=None,
        )
    return job_id


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A stored job and its recorded runs."""

    id: str
    trigger: str
    next_run: datetime | None
    runs: list[dict[str, Any]]


def scheduler_status(settings: Settings) -> tuple[list[JobStatus], dict[str, Any] | None]:
    """Stored jobs with their next run times and last runs, and the latest heartbeat."""
    with job_store(settings) as store:
        stored = {job.id: job for job in store.get_jobs()}
    log = jobs.RunLog(jobs.scheduler_dir(settings))
    ids = list(stored) + [name for name in log.jobs() if name not in stored]
    found = [
        JobStatus(
            id=job_id,
            trigger=str(stored[job_id].trigger) if job_id in stored else "(not scheduled)",
            next_run=stored[job_id].next_run_time if job_id in stored else None,
            runs=log.runs(job_id),
        )
        for job_id in ids
    ]
    try:
        beat = json.loads((jobs.scheduler_dir(settings) / "heartbeat.json").read_text())
    except (OSError, ValueError):
        beat = None
    return found, beat if isinstance(beat, dict) else None
