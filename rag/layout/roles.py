"""A file's role in its repository, from conventions of paths and from its content.

Conventions shared across ecosystems, never names of one project: test folders and test
file patterns, changelog names and version-heading content, build and CI files, agent and
assistant instruction files, example folders and code that documentation includes.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from core.types import FileRole
from rag.chunking.ids import language_for

_PROSE = frozenset({"markdown", "rst", "text"})
# Benchmarks are tests of speed or quality: they exercise the project, they don't explain it.
_TEST_DIRS = frozenset(
    {"test", "tests", "testing", "__tests__", "spec", "specs", "e2e", "benchmarks", "benchmark"}
)
_TEST_NAME = re.compile(
    r"^(test_.*|.*_tests?|conftest)\.py$|_test\.(go|rs|rb|exs?)$|\.(test|spec)\.[cm]?[jt]sx?$"
    r"|^Test.*\.java$|.*Tests?\.java$|_spec\.rb$",
    re.IGNORECASE,
)
_CHANGELOG_NAME = re.compile(
    r"^(change[-_ ]?log|changes|history|news|release[-_ ]?notes?|releases|whats[-_]?new)"
    r"(\.[a-z]+)?$",
    re.IGNORECASE,
)
_CHANGELOG_DIRS = frozenset({"changelog", "changelogs", "changes", "release-notes", "releases"})
_VERSION_HEADING = re.compile(
    r"^(#{1,4}\s*\[?v?\d+\.\d+[\w.\-]*\]?|v?\d+\.\d+(\.\d+)?\s*(\(.*\))?\s*$|version\s+\d+\.\d+)",
    re.IGNORECASE | re.MULTILINE,
)
_BUILD_NAMES = re.compile(
    r"^(makefile|gnumakefile|.*\.mk|justfile|dockerfile.*|.*\.dockerfile|docker-compose.*"
    r"|compose\.ya?ml|containerfile|jenkinsfile|vagrantfile|procfile"
    r"|tox\.ini|noxfile\.py|setup\.py|setup\.cfg|pyproject\.toml|manifest\.in|requirements.*\.txt"
    r"|pipfile|package\.json|tsconfig.*\.json|cargo\.toml|go\.mod|gemfile|rakefile|build\.gradle.*"
    r"|pom\.xml|cmakelists\.txt|meson\.build|\.pre-commit-config\.ya?ml|\.gitlab-ci\.ya?ml"
    r"|\.travis\.ya?ml|azure-pipelines\.ya?ml|appveyor\.ya?ml|codecov\.ya?ml|\.readthedocs\.ya?ml"
    r"|mkdocs\.ya?ml|conf\.py|\.editorconfig|\.coveragerc|pytest\.ini|mypy\.ini|\.flake8)$",
    re.IGNORECASE,
)
_BUILD_DIRS = frozenset(
    {".github", ".circleci", ".ci", ".buildkite", ".gitlab", "ci", "scripts", "bin", "tools"}
)
_CONFIG_LANGUAGES = frozenset({"toml", "yaml", "json", "ini", "makefile", "shell"})
# Instruction files for coding agents and assistants: by convention upper-case at a root
# (AGENTS.md, CLAUDE.md, SKILL.md), dot-files, `*.prompt.md`, or prompts for a model.
_AGENT_NAME = re.compile(
    r"^(AGENTS?|CLAUDE|GEMINI|SKILLS?|COPILOT)\.md$"
    r"|^(copilot[-_]instructions|\.cursorrules|\.windsurfrules|\.clinerules)(\.md)?$"
    r"|^.+[-_.](prompts?|instructions)\.(md|txt|mdc)$",
)
_AGENT_DIRS = re.compile(
    r"^\.(agents?|claude|cursor|skills?|prompts|copilot|windsurf|codex|gemini)$"
)
_EXAMPLE_DIRS = re.compile(
    r"^(examples?|samples?|demos?|snippets|cookbook|recipes|tutorials?|docs?[-_]src|.*[-_]examples?)$",
    re.IGNORECASE,
)
_DOC_DIRS = re.compile(r"^(docs?|documentation|site|guides?|manual|book|website)$", re.IGNORECASE)
_FRONT_MATTER_AGENT = re.compile(
    r"\A---\s*\n(?=(?:.*\n){0,20}?name:)(?=(?:.*\n){0,20}?description:)"
)


def in_docs_folder(path: str) -> bool:
    """Whether a file lies under a documentation folder (docs/, doc/, site/, guides/ ...)."""
    return any(_DOC_DIRS.match(f) for f in PurePosixPath(path).parts[:-1])


def classify(
    path: str, text: str = "", *, included: bool = False, excerpted: bool = False
) -> FileRole:
    """The role of a repository file (repo-relative POSIX path) with its text.

    `included` says that a documentation page includes the file, which makes code an example
    (even a test module). `excerpted`: every page that includes it shows only some of its
    lines; then code that is otherwise the project's own source stays source (a page that
    shows lines 9-24 of `fastapi/openapi/docs.py` quotes the library's defaults).
    """
    pure = PurePosixPath(path)
    name = pure.name
    folders = [part.lower() for part in pure.parts[:-1]]
    language = language_for(path) or ""
    if _AGENT_NAME.match(name) or any(_AGENT_DIRS.match(f) for f in folders):
        return FileRole.TOOLING
    if language in _PROSE and _FRONT_MATTER_AGENT.match(text):
        return FileRole.TOOLING  # a skill or agent definition: name and description up front
    in_tests = any(f in _TEST_DIRS for f in folders)
    in_docs = in_docs_folder(path)
    if included and language not in _PROSE:
        # Code a page shows is an example, even a test module; the project's own source
        # that pages only excerpt stays source.
        if excerpted and classify(path, text) is FileRole.SOURCE:
            return FileRole.SOURCE
        return FileRole.EXAMPLE
    if _TEST_NAME.search(name) or (in_tests and (language not in _PROSE or not in_docs)):
        return FileRole.TEST
    changelog = _CHANGELOG_NAME.match(name) or any(f in _CHANGELOG_DIRS for f in folders)
    if changelog and (language in _PROSE or not language):
        return FileRole.CHANGELOG
    if _BUILD_NAMES.match(name):
        return FileRole.BUILD
    if language in _PROSE:
        if len(_VERSION_HEADING.findall(text)) >= 5:
            return FileRole.CHANGELOG
        return FileRole.DOCS
    if language in _CONFIG_LANGUAGES or (folders and folders[0] in _BUILD_DIRS):
        return FileRole.BUILD
    if in_docs or any(_EXAMPLE_DIRS.match(f) for f in folders):
        return FileRole.EXAMPLE
    return FileRole.SOURCE
