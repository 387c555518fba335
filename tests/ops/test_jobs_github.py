"""The scheduler's GitHub reaction job polls the bot's answers and records the reactions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytest_httpserver import HTTPServer

from bots.github.bot import comment_key
from bots.state import SqliteBotState
from ops import jobs
from ops.scheduler import job_specs
from ops.settings import EmbeddingSettings, GitHubSettings, Settings
from tests.bots.github_kit import REPO, api_server, github
from tests.support.fake_github import FakeGitHub, reaction
from tests.support.storage import local_feedback_log

__all__ = ["api_server", "github"]  # fixtures


def test_the_job_records_reactions_and_its_run(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub, model_cache: Path
) -> None:
    """One run records a +1 on a bot answer as feedback and the run as ok."""
    data = tmp_path / "data"
    state = SqliteBotState(data / "bots" / "state.sqlite3")
    asyncio.run(state.remember(comment_key(REPO, 900), "interaction-9"))
    state.close()
    github.reactions[900] = [reaction("ann", 1, "+1")]
    settings = Settings(
        _env_file=None,
        data_dir=data,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        github=GitHubSettings(
            api_url=api_server.url_for("").rstrip("/"),
            token="ghp_test-token",  # type: ignore[arg-type]
            retries=0,
        ),
    )

    result = jobs.run_job(jobs.POLL_REACTIONS, jobs._poll_github_reactions, settings=settings)

    assert result.ok, result.detail
    assert result.detail.startswith("1 answers checked (0 unchanged): 1 reactions recorded")
    [feedback] = asyncio.run(local_feedback_log(data).for_interaction("interaction-9"))
    assert feedback.emoji == "+1"
    [run] = jobs.RunLog(data / "scheduler").runs(jobs.POLL_REACTIONS)
    assert run["status"] == "ok"
    specs = job_specs(settings, reaction_poller=jobs.poll_github_reactions)
    assert {s.id: s.func for s in specs}["poll-reactions"] == "ops.jobs:poll_github_reactions"


def test_without_github_settings_the_job_says_so(tmp_path: Path) -> None:
    """Not configured: the run is recorded as failed with what to set."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    result = jobs.run_job(jobs.POLL_REACTIONS, jobs._poll_github_reactions, settings=settings)
    assert not result.ok and "LEXIMIND_GITHUB__TOKEN" in result.detail
