"""The added questions (benchmarks/qa_extra, measure-only; benchmarks/qa_tune and, on other
projects' sdists, benchmarks/qa_sdist, for choosing settings) are well formed, used once,
and every answer they name is a file of the tree their runs index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.retrieval import (
    DEV_FILES,
    MEASURE_ONLY,
    QA_DIR,
    REPOS,
    RUNS,
    SDIST_RELEASES,
    SDIST_SETS,
    TUNING,
    Part,
    load_cases,
)

SHARED = sorted(MEASURE_ONLY | TUNING)  # questions about the shared repository snapshots
ADDED = sorted(MEASURE_ONLY | TUNING | SDIST_SETS)

FIELDS = ("question", "answer_doc", "answer_section", "source", "answered_by", "evidence")
EVIDENCE = {"doc_link_in_thread", "file_link_in_thread"}


def rows(dev: str) -> list[dict[str, str]]:
    lines = DEV_FILES[dev].read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("dev", ADDED)
def test_extra_rows_are_complete(dev: str) -> None:
    found = rows(dev)
    assert found, f"{DEV_FILES[dev].name} has no questions"
    repo = dev.rsplit("-", 1)[0]
    for row in found:
        assert all(row.get(f) for f in FIELDS), row
        assert row["evidence"] in EVIDENCE, row
        assert len(row["question"]) <= 400, row["source"]
        assert row["answer_doc"].startswith(f"{repo}/"), row["answer_doc"]
        assert row["source"].startswith("https://"), row["source"]


def test_extra_threads_are_used_once() -> None:
    extra = [r["source"] for dev in ADDED for r in rows(dev)]
    assert len(extra) == len(set(extra)), "a thread is used twice"


@pytest.mark.skipif(not QA_DIR.is_dir(), reason="../shared/data/qa is absent")
def test_extra_threads_are_not_dev_threads() -> None:
    dev = {r["source"] for d in ("fastapi", "httpx", "requests") for r in rows(d)}
    extra = {r["source"] for d in ADDED for r in rows(d)}
    assert not dev & extra


def test_extra_runs_ask_the_whole_repositories() -> None:
    by_name = {r.name: r for r in RUNS}
    for dev in SHARED:
        run = by_name[dev]
        assert run.dev == dev
        assert run.corpus == dev.rsplit("-", 1)[0] + "-repo"
        assert run.parts == by_name[run.corpus].parts
        assert run.index_name == run.corpus


def test_sdist_runs_ask_their_whole_release() -> None:
    by_name = {r.name: r for r in RUNS}
    for name, release in SDIST_RELEASES.items():
        run = by_name[f"{name}-sdist"]
        assert run.dev == run.name and run.index_name == run.name
        assert run.parts == (Part(release, f"{name}/"),)


@pytest.mark.parametrize("name", sorted(SDIST_RELEASES))
def test_every_sdist_answer_exists_in_its_release(name: str) -> None:
    release = SDIST_RELEASES[name]
    if not release.folder.is_dir():
        pytest.skip(f"{release.name} {release.version} is not fetched yet (benchmarks.retrieval)")
    wanted = [r["answer_doc"].removeprefix(f"{name}/") for r in rows(f"{name}-sdist")]
    missing = [path for path in wanted if not (release.folder / path).is_file()]
    assert not missing, f"answer_doc not in {release.name} {release.version}: {missing}"


@pytest.mark.skipif(not REPOS.is_dir(), reason="../shared/data/repos is absent")
@pytest.mark.parametrize("dev", SHARED)
def test_every_extra_answer_exists_in_the_shared_repositories(dev: str) -> None:
    missing = [r["answer_doc"] for r in rows(dev) if not (REPOS / r["answer_doc"]).is_file()]
    assert not missing, f"answer_doc not in {REPOS.name}/: {missing}"


@pytest.mark.parametrize("dev", ADDED)
def test_extra_cases_load_with_one_answer_each(dev: str) -> None:
    cases = load_cases(dev)
    assert len(cases) == len(rows(dev))
    assert all(len(c.answers) == 1 and Path(next(iter(c.answers))).suffix for c in cases)
