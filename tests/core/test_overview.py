"""Questions about what a project is, and the README passage that answers them."""

from __future__ import annotations

import pytest

from core.overview import (
    asks_overview,
    defines,
    is_overview_page,
    lead_passage,
    naming_project,
    overview_page,
    project_name,
)
from tests.fakes import chunk


@pytest.mark.parametrize(
    "question",
    [
        "What does this project do?",
        "what is this library for",
        "What is the purpose of this package?",
        "Why should I use this framework?",
        "What is this repository?",
        "What problem does this tool solve?",
    ],
)
def test_questions_about_the_project_itself(question: str) -> None:
    assert asks_overview(question)


@pytest.mark.parametrize(
    "question",
    [
        "What does this function do?",
        "What is the project's licence?",
        "What does the retry option do?",
        "How do I run the tests?",
        "What is this error about?",
    ],
)
def test_questions_about_a_part_of_it(question: str) -> None:
    assert not asks_overview(question)


def test_the_root_readme_else_the_docs_landing_page() -> None:
    assert overview_page(["docs/index.md", "README.rst", "pkg/README.md"]) == "README.rst"
    assert overview_page(["docs/index.md", "docs/usage/index.md", "src/a.py"]) == "docs/index.md"
    assert overview_page(["docs/usage/index.md", "examples/README.md"]) is None
    assert is_overview_page("docs/README.md") and not is_overview_page("pkg/README.md")


def test_the_lead_is_the_first_passage_that_says_what_the_project_is() -> None:
    """Logos, badges, field lists and a call for donations come first in real READMEs."""
    logo = chunk("README.md", '<p align="center"><img src="logo.svg"></p>', lines=(1, 3))
    fields = chunk(
        "README.md",
        ":Version: 5.4.0\n:Web: https://example.org\n:Keywords: task, queue, job, async",
        lines=(4, 8),
    )
    donations = chunk("README.md", "This project relies on your generous donations.", lines=(9, 12))
    lead = chunk(
        "README.md",
        "A task queue distributes work.\n\n**Quill makes it easy to build command line tools.**",
        lines=(13, 20),
    )
    later = chunk("README.md", "Quill is a library with many features.", lines=(21, 30))
    assert lead_passage([later, donations, lead, fields, logo]) == lead
    assert lead_passage([logo, fields, donations]) is None
    assert defines("Starlette is a lightweight ASGI framework for async web services.")
    assert not defines("Starlette is a framework")  # too short, and no sentence end


def test_a_sentence_with_the_page_title_as_its_subject_defines_it() -> None:
    """READMEs open with "<name> <does something>": the title tells whose name it is."""
    sentence = "Quill answers the questions newcomers ask about a project, with sources."
    assert defines(sentence, "Quill")
    assert not defines(sentence)
    assert not defines("Quill: Answers for newcomers, with sources and citations.", "Quill")
    lead = chunk("README.md", f"{sentence}\n\nMore text.", title="Quill", lines=(1, 4))
    assert lead_passage([lead]) == lead


def test_a_short_question_saying_it_means_the_project() -> None:
    """ "How do I install it?" is searched as "How do I install Starlette?"; "it" in a
    question about something else, or a longer question, is left alone."""
    assert naming_project("How do I install it?", "Starlette") == "How do I install Starlette?"
    assert naming_project("How do I install this library?", "Starlette") == (
        "How do I install Starlette?"
    )
    assert naming_project("Can I use this with Django?", "Quill") == "Can I use Quill with Django?"
    assert naming_project("How do I read my response when it fails?", "Quill") is None
    assert naming_project("How do I call it from `Response.json`?", "Quill") is None
    assert naming_project("How do I install it?", "") is None
    assert naming_project("Where are the docs?", "Quill") is None


def test_the_project_name_is_what_the_readme_opening_calls_it() -> None:
    titled = chunk(
        "README.md", "Starlette is a lightweight ASGI framework for Python.", title="Starlette"
    )
    assert project_name(titled) == "Starlette"
    untitled = chunk(
        "README.md",
        "*attrs* is the Python package that brings back joy to classes.",
        title="README.md",
    )
    assert project_name(untitled) == "attrs"
    # A first heading that is no name (a README opening with "Donations") is not taken.
    donations = chunk(
        "README.rst", "Task queues are used to spread work over machines.", title="Donations"
    )
    assert project_name(donations) == ""
