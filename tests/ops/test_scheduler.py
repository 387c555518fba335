"""The scheduler: jobs from settings in a persistent job store, outcomes recorded, and never two
retrainings at once, even from two scheduler processes on one data dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from typer.testing import CliRunner

from ops import jobs
from ops.cli import app
from ops.scheduler import (
    JobSpec,
    enqueue_retrain,
    job_specs,
    job_store,
    reconcile,
    scheduler_status,
)
from ops.settings import EmbeddingSettings, SchedulerSettings, Settings
from ops.wiring import open_services_sync
from tests.conftest import REPO_ROOT
from tests.support.datasets import conala_slice
from tests.support.polling import wait_until
from tests.support.retraining import INTERVALS_ENV, RELEASE_ENV
from tests.support.scheduler_process import BACKENDS
from tests.support.services import index_tree
from tests.support.vllm_server import free_port


def settings_at(data_dir: Path, **scheduler: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, scheduler=SchedulerSettings(**scheduler))


def poll_reactions() -> None:
    """A stand-in for the GitHub adapter's poller job (a top-level function)."""


def test_the_settings_decide_the_jobs(tmp_path: Path) -> None:
    """Weekly retraining on Sunday 02:00 UTC, drain, re-index; 0 turns a job off; the reaction
    poller is registered when there is one."""
    specs = {s.id: s for s in job_specs(settings_at(tmp_path))}
    assert set(specs) == {"heartbeat", "retrain", "drain-spool", "reindex"}
    assert str(specs["retrain"].trigger) == (
        "cron[month='*', day='*', day_of_week='sun', hour='2', minute='0']"
    )
    assert specs["retrain"].func == "ops.jobs:retrain"
    assert str(specs["drain-spool"].trigger) == "interval[0:01:00]"

    quiet = settings_at(tmp_path, retrain_interval=5, drain_interval=0, reindex_interval=0)
    specs = {s.id: s for s in job_specs(quiet, reaction_poller=poll_reactions)}
    assert set(specs) == {"heartbeat", "retrain", "poll-reactions"}
    assert str(specs["retrain"].trigger) == "interval[0:00:05]"
    assert specs["poll-reactions"].func.endswith(":poll_reactions")
    off = settings_at(tmp_path, retrain_enabled=False)
    assert "retrain" not in {s.id for s in job_specs(off)}


def stored_jobs(settings: Settings, specs: list[JobSpec]) -> dict[str, object]:
    """Reconciles the store with `specs` as a starting scheduler does; the next run times."""
    with job_store(settings) as store:
        reconcile(store, specs)
        return {job.id: job.next_run_time for job in store.get_jobs()}


def test_a_restart_keeps_next_run_times_unless_the_trigger_changed(tmp_path: Path) -> None:
    """Jobs persist in the SQLite job store; an unchanged job keeps its next run time, a changed
    one is rescheduled, a disabled one removed."""
    settings = settings_at(tmp_path, retrain_interval=3600)
    started = datetime.now(UTC).replace(microsecond=0)
    restarted = started + timedelta(minutes=30)
    first = stored_jobs(settings, job_specs(settings, now=started))
    assert (tmp_path / "scheduler" / "jobs.sqlite3").is_file()
    assert first["retrain"] == started + timedelta(hours=1)
    again = stored_jobs(settings, job_specs(settings, now=restarted))
    assert again == first

    changed = settings_at(tmp_path, retrain_interval=7200, reindex_interval=0)
    after = stored_jobs(changed, job_specs(changed, now=restarted))
    assert after["retrain"] == restarted + timedelta(hours=2) and "reindex" not in after
    assert after["drain-spool"] == first["drain-spool"] == started + timedelta(minutes=1)


def test_a_job_that_fails_is_recorded_not_raised(tmp_path: Path) -> None:
    """run_job catches the failure, records it with the error, and returns it."""
    settings = settings_at(tmp_path)

    def broken(_: Settings) -> jobs.JobResult:
        raise RuntimeError("the disk is on fire")

    result = jobs.run_job("reindex", broken, settings=settings)
    ok = jobs.run_job("reindex", lambda _: jobs.JobResult("2 changed"), settings=settings)

    assert not result.ok and ok.ok
    runs = jobs.RunLog(tmp_path / "scheduler").runs("reindex")
    assert [(r["status"], r["detail"]) for r in runs] == [
        ("failed", "RuntimeError: the disk is on fire"),
        ("ok", "2 changed"),
    ]


def test_a_held_retrain_lock_skips_the_run(tmp_path: Path) -> None:
    """While another holder has the retrain lock, a retraining is skipped and says why."""
    settings = settings_at(tmp_path)
    ran: list[bool] = []

    def body(_: Settings) -> jobs.JobResult:
        ran.append(True)
        return jobs.JobResult("promoted")

    with jobs.exclusive(jobs.retrain_lock(settings)) as held:
        assert held
        skipped = jobs.run_job("retrain", body, settings=settings, lock=jobs.retrain_lock)
    done = jobs.run_job("retrain", body, settings=settings, lock=jobs.retrain_lock)

    assert (skipped.ok, skipped.detail, done.ok, ran) == (
        False,
        "another retrain is running",
        True,
        [True],
    )
    statuses = [r["status"] for r in jobs.RunLog(tmp_path / "scheduler").runs("retrain")]
    assert statuses == ["skipped", "ok"]


def test_only_the_last_runs_are_kept(tmp_path: Path) -> None:
    """The run record of a job keeps its newest RUNS_KEPT runs."""
    log = jobs.RunLog(tmp_path)
    for n in range(jobs.RUNS_KEPT + 5):
        log.record("drain-spool", {"detail": str(n)})
    runs = log.runs("drain-spool")
    assert len(runs) == jobs.RUNS_KEPT and runs[-1]["detail"] == str(jobs.RUNS_KEPT + 4)


def scheduler_env(tmp_path: Path, model_cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEXIMIND_")}
    env.update(
        {
            "LEXIMIND_DATA_DIR": str(tmp_path / "data"),
            "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache),
            "LEXIMIND_LLM__BASE_URL": "http://127.0.0.1:9/v1",
            "LEXIMIND_LLM__MODEL": "base-model",
            "LEXIMIND_DATASET__CONALA_DIR": str(conala_slice(tmp_path / "conala")),
            "LEXIMIND_SCHEDULER__DRAIN_INTERVAL": "0",
            "LEXIMIND_SCHEDULER__REINDEX_INTERVAL": "0",
            INTERVALS_ENV: str(tmp_path / "intervals.txt"),
            RELEASE_ENV: str(tmp_path / "release"),
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    env.update(extra)
    return env


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.scheduler_process"],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(check: Callable[[], bool], what: str, logs: list[Path]) -> None:
    """Waits for the schedulers' effect; a failure shows the end of each log."""

    def tails() -> str:
        return "logs:\n" + "\n".join(p.read_text()[-3000:] for p in logs if p.exists())

    wait_until(check, what=what, timeout=180, detail=tails)


def intervals(path: Path) -> list[tuple[str, int, float]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(kind, int(pid), float(at)) for kind, pid, at in rows]


def retrain_runs(data: Path) -> list[dict[str, object]]:
    return jobs.RunLog(data / "scheduler").runs("retrain")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_two_schedulers_never_train_at_once(tmp_path: Path, model_cache: Path) -> None:
    """Two scheduler processes share a data dir and fire retraining every 2 s: while one trains
    the other's runs are skipped, and no two trainings overlap; each run is recorded."""
    with open_services_sync(settings_at(tmp_path / "data"), "cli"):
        pass  # the store and folders, as `index` leaves them
    env = scheduler_env(tmp_path, model_cache, LEXIMIND_SCHEDULER__RETRAIN_INTERVAL="2")
    logs = [tmp_path / "scheduler-a.log", tmp_path / "scheduler-b.log"]
    processes = [start_scheduler(env, log) for log in logs]
    try:
        path = tmp_path / "intervals.txt"
        wait_for(lambda: any(k == "start" for k, _, _ in intervals(path)), "a retraining", logs)
        wait_for(
            lambda: any(r["status"] == "skipped" for r in retrain_runs(tmp_path / "data")),
            "a skipped retraining",
            logs,
        )
        (tmp_path / "release").touch()
        wait_for(lambda: sum(k == "end" for k, _, _ in intervals(path)) >= 3, "3 runs", logs)
    finally:
        stop(processes)

    open_runs = 0
    for kind, _, _ in sorted(intervals(path), key=lambda row: row[2]):
        open_runs += 1 if kind == "start" else -1
        assert open_runs in (0, 1), "two trainings overlapped"
    runs = retrain_runs(tmp_path / "data")
    failed = [r for r in runs if r["status"] == "failed"]
    assert failed and "training failed: scripted failure" in str(failed[0]["detail"])
    assert all(p.returncode == 0 for p in processes)


def test_a_queued_retraining_runs_when_the_scheduler_starts(
    tmp_path: Path, model_cache: Path
) -> None:
    """A retraining queued in the job store (what `leximind retrain` does) is run by the next
    scheduler, recorded, and shown by `leximind scheduler status` with the jobs."""
    data = tmp_path / "data"
    with open_services_sync(settings_at(data), "cli"):
        pass  # the store and folders, as `index` leaves them
    port = free_port()
    env = scheduler_env(
        tmp_path,
        model_cache,
        LEXIMIND_SCHEDULER__RETRAIN_ENABLED="false",
        LEXIMIND_METRICS__PORT=str(port),
    )
    (tmp_path / "release").touch()
    enqueue_retrain(settings_at(data), backends=BACKENDS)
    log = tmp_path / "scheduler.log"
    process = start_scheduler(env, log)
    try:
        wait_for(lambda: bool(retrain_runs(data)), "the queued retraining", [log])
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        stop([process])

    assert 'leximind_job_runs_total{job="retrain",outcome="failed"} 1.0' in scraped

    run = retrain_runs(data)[0]
    assert run["status"] == "failed" and "scripted failure" in str(run["detail"])
    found, beat = scheduler_status(settings_at(data, retrain_enabled=False))
    assert {j.id for j in found} == {"heartbeat", "retrain"}
    assert beat is not None and beat["pid"] == process.pid
    shown = CliRunner().invoke(app, ["scheduler", "status", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    status = json.loads(shown.output)
    retrain = next(j for j in status["jobs"] if j["id"] == "retrain")
    assert retrain["next_run"] is None and retrain["runs"][0]["status"] == "failed"
    heartbeat = next(j for j in status["jobs"] if j["id"] == "heartbeat")
    assert heartbeat["trigger"] == "interval[0:00:30]" and heartbeat["next_run"]
    table = CliRunner().invoke(app, ["scheduler", "status"], env=env)
    assert "last scheduler heartbeat" in table.output and "failed:" in table.output


def test_leximind_retrain_queues_a_run(tmp_path: Path) -> None:
    """Without --now the command only queues a one-off job for the scheduler."""
    env = {"LEXIMIND_DATA_DIR": str(tmp_path)}
    queued = CliRunner().invoke(app, ["retrain"], env=env)
    assert queued.exit_code == 0, queued.output
    assert "queued retrain-once-" in queued.output
    found, _ = scheduler_status(settings_at(tmp_path))
    (one_off,) = [j for j in found if j.id.startswith("retrain-once-")]
    assert one_off.next_run is not None and one_off.trigger.startswith("date[")


def test_run_observers_see_every_outcome(tmp_path: Path) -> None:
    """An observer (the scheduler's metrics) hears each run's job and status until removed."""
    settings = settings_at(tmp_path)
    heard: list[tuple[str, str]] = []
    forget = jobs.on_run(lambda job, status: heard.append((job, status)))
    try:
        jobs.run_job("drain-spool", lambda _: jobs.JobResult("0 replayed"), settings=settings)
        jobs.run_job("reindex", lambda _: jobs.JobResult("broken", ok=False), settings=settings)
    finally:
        forget()
    jobs.run_job("reindex", lambda _: jobs.JobResult("fine"), settings=settings)
    assert heard == [("drain-spool", "ok"), ("reindex", "failed")]


def test_the_reindex_job_brings_every_knowledge_base_up_to_date(
    tmp_path: Path, model_cache: Path
) -> None:
    """Each knowledge base is re-read from the source it was indexed from; only changed files
    are embedded; a source that vanished is reported, the others still done."""
    from rag.sources import read_tree

    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
    )
    for name in ("docs", "gone"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "README.md").write_text(f"# {name}\n\nRun the tests with pytest.\n")
        (folder / "INSTALL.md").write_text("# Install\n\nUse pip install.\n")
        index_tree(settings, read_tree(folder, max_bytes=10**6), kb=name, source=str(folder))
    (tmp_path / "docs" / "INSTALL.md").write_text("# Install\n\nUse uv pip install.\n")
    (tmp_path / "gone" / "README.md").unlink()
    (tmp_path / "gone" / "INSTALL.md").unlink()
    (tmp_path / "gone").rmdir()

    result = jobs.run_job(jobs.REINDEX, jobs._reindex, settings=settings)

    assert not result.ok
    assert "docs: 1 changed, 0 deleted, 1 embedded" in result.detail
    assert "gone: " in result.detail and "does not exist" in result.detail


def test_the_drain_job_replays_the_spool(tmp_path: Path) -> None:
    """Records spooled while the store was down reach it when the job runs."""
    from adapters.storage.spool import Spool
    from adapters.storage.writer import WriteKind

    settings = settings_at(tmp_path)
    Spool(tmp_path / "spool").append(WriteKind.REPLACE.value, "corrections/i1.json", b"{}")

    result = jobs.run_job(jobs.DRAIN, jobs._drain, settings=settings)

    assert (result.ok, result.detail) == (True, "1 replayed, 0 left")
    assert (tmp_path / "objects" / "corrections" / "i1.json").is_file()
