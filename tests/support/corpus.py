"""Small git repositories made from slices of the shared FastAPI docs or repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import shared_data

SLICE = [
    "README.md",
    "docs/en/docs/async.md",
    "docs/en/docs/tutorial/query-params-str-validations.md",
    "docs/en/docs/tutorial/query-params.md",
    "docs/en/docs/tutorial/path-params.md",
    "docs/en/docs/tutorial/body.md",
    "docs/en/docs/tutorial/cors.md",
    "docs/en/docs/tutorial/testing.md",
    "docs/en/docs/tutorial/background-tasks.md",
    "docs/en/docs/advanced/additional-responses.md",
    "docs/en/docs/advanced/events.md",
    "docs/en/docs/deployment/docker.md",
]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_fastapi_repo(
    target: Path, files: list[str] = SLICE, *, source: tuple[str, ...] = ("corpora", "fastapi")
) -> Path:
    """A git repository holding `files` of the FastAPI docs, committed, with a GitHub remote.

    `source` is the shared data folder the files come from: the curated docs by default,
    ("repos", "fastapi") for the whole repository (translations, docs_src/, package, tests).
    """
    fastapi = shared_data(*source)
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fastapi / rel, dest)
    (target / ".gitignore").write_text("ignored/\n")
    (target / "ignored").mkdir()
    (target / "ignored" / "secret.md").write_text("# Ignored\n\nThis must not be indexed.\n")
    (target / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    git(target, "init", "--quiet", "--initial-branch=main")
    git(target, "remote", "add", "origin", "git@github.com:fastapi/fastapi.git")
    git(target, "add", "-A")
    git(target, "commit", "--quiet", "-m", "docs slice")
    return target
