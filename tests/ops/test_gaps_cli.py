"""`leximind gaps` groups the declined, disliked and corrected questions of a seeded log (S3 and
LanceDB) into ranked gaps; `--open-issue` and the weekly job keep one GitHub issue per
knowledge base, opened once and then updated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from core.ports import ObjectStore
from core.types import FeedbackLabel, Interaction, Question, Source
from ops import jobs, scheduler, wiring
from ops.cli import app
from ops.wiring import open_services_sync
from rag.sources import read_tree
from tests.adapters.test_s3_storage import new_bucket
from tests.bots.github_kit import api_server, github  # noqa: F401 - fixtures
from tests.fakes import chunk
from tests.support.corpus import make_fastapi_repo
from tests.support.fake_github import FakeGitHub
from tests.support.review import interaction, store_feedback, store_interaction
from tests.support.seaweedfs import SeaweedServer
from tests.support.services import index_tree

runner = CliRunner()
GAPS_REPO = "octo/docs"
PAGES = ["docs/en/docs/tutorial/cors.md", "docs/en/docs/tutorial/testing.md"]
CORS = [
    "How can I enable CORS so that my frontend can call the API?",
    "CORS error: how do I allow my frontend's domain to call my API?",
    "Why does my browser block calls to my API? Is this CORS?",
]
UPLOAD = "How do I stream a 5 GB video upload straight to disk?"
LIKED = "How do I write tests for my app?"


def user(n: int) -> str:
    return f"{n:032x}"


def days_ago(n: int) -> str:
    return (datetime.now(UTC) - timedelta(days=n)).date().isoformat()


def asked(
    interaction_id: str,
    text: str,
    *,
    who: int,
    day: str,
    abstained: bool = False,
    score: float = 0.3,
    kb: str = "docs",
) -> Interaction:
    base = interaction(interaction_id, abstained=abstained, day=day, question=text)
    source = Source(chunk("docs/en/docs/tutorial/cors.md", "CORS", kb=kb), score)
    question = Question(text=text, kb=kb, platform="slack", user_hash=user(who))
    return replace(base, question=question, answer=replace(base.answer, sources=(source,)))


def seed(store: ObjectStore) -> None:
    """Three askers fail on CORS (declined, disliked, corrected), one on uploads; a liked
    answer, a question older than the period and one of another knowledge base do not count."""
    recent = days_ago(1)
    for item in (
        asked("cors1", CORS[0], who=1, day=recent, abstained=True, score=0.41),
        asked("cors2", CORS[1], who=2, day=recent, score=0.5),
        asked("cors3", CORS[2], who=3, day=days_ago(3), score=0.5),
        asked("upload", UPLOAD, who=1, day=recent, abstained=True, score=0.1),
        asked("liked", LIKED, who=4, day=recent, score=0.6),
        asked("old", CORS[0], who=5, day=days_ago(40), abstained=True),
        asked("other", CORS[0], who=6, day=recent, abstained=True, kb="other"),
    ):
        store_interaction(store, item)
    store_feedback(store, "cors2", user(7), FeedbackLabel.NEGATIVE)
    store_feedback(store, "liked", user(7), FeedbackLabel.POSITIVE)
    store_feedback(store, "liked", user(8), FeedbackLabel.NEGATIVE)  # a tie is no dislike
    correction = {"interaction_id": "cors3", "answer": "Add CORSMiddleware.", "annotator": "m"}
    store.put("corrections/cors3.json", json.dumps(correction).encode())


@pytest.fixture
def env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
    seaweedfs: SeaweedServer,
    api_server: HTTPServer,  # noqa: F811
) -> Iterator[ObjectStore]:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    for name, value in {
        "DATA_DIR": str(tmp_path / "data"),
        "EMBEDDING__CACHE_DIR": str(model_cache),
        "STORAGE__BACKEND": "s3",
        "STORAGE__ENDPOINT": seaweedfs.endpoint,
        "STORAGE__ACCESS_KEY": seaweedfs.access_key,
        "STORAGE__SECRET_KEY": seaweedfs.secret_key,
        "STORAGE__SECURE": "false",
        "STORAGE__BUCKET": new_bucket(),
        "STORAGE__CATALOG_TTL": "0",
        "GITHUB__TOKEN": "ghp_test-token",
        "GITHUB__API_URL": api_server.url_for("").rstrip("/"),
        "GITHUB__RETRIES": "0",
        "GITHUB__SECONDS_BETWEEN_REQUESTS": "0",
        "GITHUB__SECONDS_BETWEEN_WRITES": "0",
    }.items():
        monkeypatch.setenv(f"LEXIMIND_{name}", value)
    settings = wiring.load_settings()
    repo = make_fastapi_repo(tmp_path / "repo", files=PAGES)
    index_tree(settings, read_tree(repo, max_bytes=10**6), kb="docs", source=str(repo))
    with open_services_sync(settings, "cli") as (process, _):
        seed(process.objects)
        yield process.objects


def gaps_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["gaps", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_gaps_groups_failed_questions_and_ranks_them(env: ObjectStore) -> None:
    """The three CORS questions are one gap, first, from three users, placed in the CORS
    page; the upload question is a gap of its own with nothing relevant."""
    report = gaps_json("--since", "30d", "--kb", "docs")
    assert report["questions"] == 4
    first, second = report["gaps"]
    assert first["questions"] == 3 and first["users"] == 3
    assert first["reasons"] == {"too weak": 1, "disliked": 1, "corrected": 1}
    assert first["representative"] in CORS
    assert first["pages"][0]["path"] == "docs/en/docs/tutorial/cors.md"
    assert first["belongs"].startswith("a section in docs/en/docs/tutorial/cors.md")
    assert second["representative"] == UPLOAD and second["reason"] == "nothing relevant"
    assert {q["interaction_id"] for g in report["gaps"] for q in g["asked"]} == {
        "cors1",
        "cors2",
        "cors3",
        "upload",
    }


def test_gaps_covers_every_knowledge_base_and_the_period(env: ObjectStore) -> None:
    everything = gaps_json("--since", "60d")
    assert {g["kb"] for g in everything["gaps"]} == {"docs", "other"}
    assert "old" in {q["interaction_id"] for g in everything["gaps"] for q in g["asked"]}
    last_two_days = gaps_json("--since", "2d", "--kb", "docs")
    assert last_two_days["questions"] == 3  # cors3 was asked three days ago


def test_gaps_table_and_bad_since(env: ObjectStore) -> None:
    table = runner.invoke(app, ["gaps", "--kb", "docs"])
    assert table.exit_code == 0, table.output
    assert "4 questions in 2 gaps" in table.output
    bad = runner.invoke(app, ["gaps", "--since", "last month"])
    assert bad.exit_code == 1 and "--since" in bad.output and "Traceback" not in bad.output


def test_open_issue_needs_a_repository(env: ObjectStore) -> None:
    result = runner.invoke(app, ["gaps", "--open-issue"])
    assert result.exit_code == 1 and "LEXIMIND_MEMORY__GAPS_REPO" in result.output


def test_open_issue_opens_once_then_updates_in_place(
    env: ObjectStore,
    github: FakeGitHub,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEXIMIND_MEMORY__GAPS_REPO", GAPS_REPO)
    first = gaps_json("--kb", "docs", "--open-issue")
    assert first["issues"] == [{"kb": "docs", "number": 1, "opened": True}]
    [made] = github.issues[GAPS_REPO]
    assert (
        made["title"] == "Documentation gaps: 4 questions newcomers could not get answered (docs)"
    )
    assert "docs/en/docs/tutorial/cors.md" in made["body"]

    more = asked("cors4", "How do I enable CORS for my React frontend?", who=9, day=days_ago(0))
    store_interaction(env, replace(more, answer=replace(more.answer, abstained=True)))
    again = gaps_json("--kb", "docs", "--open-issue")
    assert again["issues"] == [{"kb": "docs", "number": 1, "opened": False}]
    [kept] = github.issues[GAPS_REPO]
    assert kept["title"].startswith("Documentation gaps: 5 questions")
    assert github.count("POST", rf"/repos/{GAPS_REPO}/issues$") == 1
    assert github.count("PATCH", rf"/repos/{GAPS_REPO}/issues/1$") == 1


def test_weekly_job_is_registered_when_configured_and_keeps_the_issues(
    env: ObjectStore,
    github: FakeGitHub,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without GAPS_WEEKLY there is no job; with it the job keeps one issue per knowledge base."""
    assert jobs.GAPS not in {s.id for s in scheduler.job_specs(wiring.load_settings())}
    monkeypatch.setenv("LEXIMIND_MEMORY__GAPS_REPO", GAPS_REPO)
    monkeypatch.setenv("LEXIMIND_MEMORY__GAPS_WEEKLY", "true")
    settings = wiring.load_settings()
    [spec] = [s for s in scheduler.job_specs(settings) if s.id == jobs.GAPS]
    assert spec.func == "ops.jobs:gap_issues"
    assert "day_of_week='mon'" in str(spec.trigger)

    jobs.gap_issues()
    [run] = jobs.RunLog(jobs.scheduler_dir(settings)).runs(jobs.GAPS)
    assert run["status"] == jobs.OK, run
    titles = sorted(i["title"] for i in github.issues[GAPS_REPO])
    assert titles == [
        "Documentation gaps: 1 question newcomers could not get answered (other)",
        "Documentation gaps: 4 questions newcomers could not get answered (docs)",
    ]
