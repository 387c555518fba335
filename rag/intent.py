"""What a question asks for, and how much each file role counts for it in the ranking.

The intent comes from the question's phrasing in general ("how do I ...", "where is ...",
running the tests or setting up a development environment), never from a project's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import PurePosixPath

from core.overview import asks_overview, is_overview_page
from core.types import FileRole
from rag.layout.roles import classify


class Intent(StrEnum):
    HOWTO = "howto"  # how do I do something with the project
    LOOKUP = "lookup"  # what does X do, where is X, how is X implemented
    ONBOARDING = "onboarding"  # run the tests, build, set up, contribute
    TESTS = "tests"  # about the project's own tests
    CHANGES = "changes"  # versions, releases, what changed
    OVERVIEW = "overview"  # what the project itself is, does or is for
    GENERAL = "general"


_ONBOARDING = re.compile(
    r"\b(run(ning)?|execute|start)\s+(the\s+|all\s+|my\s+|our\s+)?(unit\s+)?"
    r"(tests?|test\s+suite|suite|linters?|checks|benchmarks?)\b"
    r"|\bcontribut(e|ing|or|ors|ion)\b|\bdevelopment\s+(environment|setup|install)"
    r"|\b(dev|local)\s+(environment|setup)\b|\bset\s*up\s+(a\s+|the\s+|my\s+)?(dev|development|local)\b"
    r"|\bbuild\s+(the\s+)?(project|docs|documentation|package|wheel|from\s+source)\b"
    r"|\bfrom\s+source\b|\blint(ing|er)?\b|\bpre-commit\b|\b(open|submit|send)\s+a\s+(pr|pull\s+request)",
    re.IGNORECASE,
)
_HOWTO = re.compile(
    r"(?:^|[:.?!]\s+)\W*(how\s+(do|can|should|would|could|shall)\s+(i|we|you|one)\b|how\s+to\b"
    r"|is\s+(it|there)\s+(possible|a\s+way)|can\s+(i|we|you)\b|(what('s|\s+is)|which\s+is)\s+the"
    r"\s+(best|right|recommended|correct|proper)\s+way|i\s+(want|need|would\s+like)\s+to\b)"
    r"|\b(how\s+(do|can|should)\s+(i|we)|how\s+to)\b",
    re.IGNORECASE,
)
_LOOKUP = re.compile(
    r"^\W*(how|why|when)\s+(is|are|does|do|did)\s+(?!(i|we|you|one)\b)|\bwhat\s+(does|do)\s+\S+(\s+\S+){0,3}\s+do\b|\bwhere\s+(is|are|does|do)\b"
    r"|\bwhich\s+(function|class|method|module|file|parameter|argument)s?\b"
    r"|\bhow\s+(is|are|does)\s+.+\s+(implemented|computed|calculated|stored|defined|handled|work)"
    r"|\bimplementation\s+of\b|\bdefined\b|\bsource\s+code\b|\bsignature\b",
    re.IGNORECASE,
)
_TESTS = re.compile(r"\b(tests?|test\s+suite|fixtures?|pytest|unit\s+tests?|coverage)\b", re.I)
_CHANGES = re.compile(
    r"\b(changelog|release\s+notes?|what('s|\s+is)\s+new|changed\s+in|since\s+(version|v?\d)"
    r"|in\s+version\s+\d|v\d+\.\d+|\d+\.\d+\.\d+|deprecat\w+|breaking\s+changes?|upgrad\w+|migrat\w+)",
    re.IGNORECASE,
)


def question_intent(question: str) -> Intent:
    """The intent of a question, the most specific that its phrasing shows."""
    if asks_overview(question):
        return Intent.OVERVIEW
    if _ONBOARDING.search(question):
        return Intent.ONBOARDING
    if _CHANGES.search(question):
        return Intent.CHANGES
    if _HOWTO.search(question):
        return Intent.HOWTO
    if _TESTS.search(question):
        return Intent.TESTS
    if _LOOKUP.search(question):
        return Intent.LOOKUP
    return Intent.GENERAL


_P, _N, _S, _D = "primary", "neutral", "secondary", "demoted"
_TIERS: dict[Intent, dict[FileRole, str]] = {
    Intent.HOWTO: {
        FileRole.DOCS: _P,
        FileRole.EXAMPLE: _P,
        FileRole.BUILD: _N,
    },
    Intent.LOOKUP: {
        FileRole.SOURCE: _P,
        FileRole.DOCS: _P,
        FileRole.EXAMPLE: _N,
        FileRole.BUILD: _N,
    },
    Intent.ONBOARDING: {FileRole.BUILD: _P, FileRole.DOCS: _N},
    Intent.TESTS: {
        FileRole.TEST: _P,
        FileRole.DOCS: _P,
        FileRole.SOURCE: _N,
        FileRole.EXAMPLE: _N,
        FileRole.BUILD: _N,
    },
    Intent.CHANGES: {
        FileRole.CHANGELOG: _P,
        FileRole.DOCS: _P,
        FileRole.SOURCE: _N,
        FileRole.EXAMPLE: _N,
    },
    Intent.OVERVIEW: {FileRole.DOCS: _N},
    Intent.GENERAL: {
        FileRole.DOCS: _P,
        FileRole.SOURCE: _N,
        FileRole.EXAMPLE: _N,
        FileRole.BUILD: _N,
    },
}
# Prose that newcomers are pointed to first: README, CONTRIBUTING, DEVELOPMENT, INSTALL...
_GUIDE = re.compile(
    r"^(readme|contributing|development|developing|hacking|install(ing|ation)?)\b", re.I
)


# API reference pages by the folder convention of doc generators (docs/reference/,
# docs/api/): they list what exists, while guides show how to use it.
_REFERENCE_DIRS = re.compile(r"^(reference|references|api|api[-_]reference|apidocs?)$", re.I)


def _tier(intent: Intent, role: FileRole, path: str) -> str:
    if role is FileRole.TEST and intent is not Intent.TESTS:
        return _D  # a test shows how the project checks itself, seldom how to use it
    if intent is Intent.OVERVIEW and role is FileRole.DOCS and is_overview_page(path):
        return _P  # the README (or the docs' landing page) says what the project is
    folders = PurePosixPath(path).parts[:-1]
    howto = intent in (Intent.HOWTO, Intent.GENERAL)
    if role is FileRole.DOCS and howto and any(_REFERENCE_DIRS.match(f) for f in folders):
        return _N
    if intent is Intent.ONBOARDING and role is FileRole.DOCS:
        name = PurePosixPath(path).name
        if _GUIDE.match(name) or re.search(r"contribut|develop|testing", name, re.I):
            return _P
    return _TIERS[intent].get(role, _S)


def excluded_roles(intent: Intent) -> frozenset[FileRole]:
    """Roles whose passages take no candidate place for questions of `intent`.

    Tests, for running the tests, building or setting up: a test module's passages say
    "test", "run" and the project's names over and over, and never how to run anything,
    while the files that do (a Makefile, a CI workflow, a CONTRIBUTING section) are few
    and short. A repository with hundreds of test modules filled both candidate lists with
    them and left its `scripts/test.sh` out of either; weighed down afterwards, the tests
    still took every slot.
    """
    return frozenset({FileRole.TEST}) if intent is Intent.ONBOARDING else frozenset()


def role_weight(
    intent: Intent, *, secondary: float, translations_first: bool = False
) -> Callable[[FileRole, str], float]:
    """The page weight of a file of some role and path for questions of `intent`.

    Roles the intent favours count 1, neutral ones halfway to `secondary`, the others
    `secondary`, and tests, unless the question is about tests, `secondary` squared. A
    role stored as unknown (an index from before roles) is classified from the path.
    Translations count as secondary unless the question is in another language
    than the repository's (`translations_first`), when they count as docs do.
    """
    weights = {_P: 1.0, _N: (1.0 + secondary) / 2, _S: secondary, _D: secondary**2}

    def weight(role: FileRole, path: str) -> float:
        if role is FileRole.UNKNOWN:
            role = classify(path)
        if role is FileRole.TRANSLATION:
            return weights[_P] if translations_first else weights[_S]
        if translations_first and role is FileRole.DOCS:
            return weights[_N]
        return weights[_tier(intent, role, path)]

    return weight
