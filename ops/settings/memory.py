"""Settings of the answer memory and the documentation-gaps report (LEXIMIND_MEMORY__*)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

_REPO = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")


class MemorySettings(BaseModel):
    """Endorsed answers that lead later answers, and the weekly report of what the docs miss.

    THRESHOLD is the match score (core.memory.match_score) an entry needs to lead, calibrated
    by `python -m benchmarks.memory`. GITHUB_REPOS are the repositories whose closed issues
    `leximind github import-answers` learns from; GAPS_REPO is where `leximind gaps
    --open-issue` (and, with GAPS_WEEKLY, the scheduler) keeps one issue per knowledge base.
    """

    enabled: bool = Field(True, description="search endorsed answers beside the docs")
    min_endorsements: int = Field(
        2, ge=1, description="distinct users whose positive reactions make an answer endorsed"
    )
    threshold: float = Field(0.60, gt=0, le=2, description="match score that leads an answer")
    candidates: int = Field(30, gt=0, le=500, description="nearest entries scored per question")
    github_repos: list[str] = Field(default_factory=list, description="owner/name, for import")
    gaps_repo: str | None = Field(None, description="owner/name where gap issues are kept")
    gaps_weekly: bool = Field(False, description="open or update the gap issues every week")
    gaps_days: int = Field(30, gt=0, description="days of questions the weekly report covers")

    @field_validator("github_repos")
    @classmethod
    def _repos(cls, value: list[str]) -> list[str]:
        for repo in value:
            _repo(repo)
        return value

    @field_validator("gaps_repo")
    @classmethod
    def _gaps_repo(cls, value: str | None) -> str | None:
        return _repo(value) if value else None


def _repo(value: str) -> str:
    if not _REPO.fullmatch(value):
        raise ValueError(f"{value!r} is not a GitHub repository (owner/name)")
    return value
