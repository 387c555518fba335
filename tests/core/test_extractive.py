"""Extractive answers quote the sentences and code blocks that share the question's words."""

from __future__ import annotations

from core.extractive import abstention, extractive_answer
from core.types import Source
from tests.fakes import chunk

DOC = """# Try it

Needs only Python and git.

```sh
make test   # install what the tests need and run them all
```

The documentation is built with mkdocs and published on every release.

<!-- comment -->
| table | row |
"""


def test_quotes_matching_code_block_and_sentence_with_citations() -> None:
    """A fenced command about running tests is quoted as code, cited with its passage."""
    sources = [
        Source(chunk("README.md", DOC, title="Try it"), 0.5),
        Source(chunk("docs/ci.md", "CI runs the tests on every push to main.", title="CI"), 0.4),
    ]
    text = extractive_answer("How do I run the tests?", sources)
    assert text.startswith("From the project's sources (quoted, not generated):")
    assert "```sh\nmake test   # install what the tests need and run them all\n```" in text
    assert "> CI runs the tests on every push to main. [2]" in text
    assert "mkdocs" not in text and "table" not in text


def test_sentences_sharing_no_word_are_not_quoted() -> None:
    """Unrelated sentences are left out; with nothing matching, the answer points to [1]."""
    sources = [
        Source(chunk("a.md", "Bananas are yellow fruit grown in the tropics.", title="A"), 0.5)
    ]
    text = extractive_answer("How do I configure logging?", sources)
    assert "Bananas" not in text
    assert "See A in `a.md` [1]." in text


def test_abstention_lists_at_most_three_closest() -> None:
    """An abstention names up to three closest passages with their numbers."""
    sources = [Source(chunk(f"{i}.md", "x", title=f"T{i}"), 0.1) for i in range(5)]
    text = abstention(sources)
    assert "- [3] T2 (`2.md`)" in text and "[4]" not in text


def test_code_from_a_rst_page_is_quoted_with_its_lines() -> None:
    """A reST page's literal block, cleaned into fenced code, is quoted line for line; its
    title line is not quoted as a sentence; no role or underline reaches the answer."""
    from rag.chunking import chunk_file

    page = (
        "Testing Click Applications\n==========================\n\n"
        "Use :class:`CliRunner` to invoke the command in a test::\n\n"
        "    def test_hello():\n"
        "        runner = CliRunner()\n"
        "        result = runner.invoke(hello)\n"
    )
    (passage,) = chunk_file(kb="kb", path="docs/testing.rst", text=page)
    text = extractive_answer("How do I invoke a command with a runner?", [Source(passage, 0.6)])
    assert "def test_hello():\n    runner = CliRunner()\n    result = runner.invoke(hello)" in text
    assert "> Use `CliRunner` to invoke the command in a test: [1]" in text
    assert "> Testing Click Applications" not in text and "===" not in text


def test_indented_code_and_interactive_sessions_keep_their_lines() -> None:
    """Code indented by four spaces or typed at a `>>>` prompt is quoted as code."""
    doc = (
        "Test the command with a runner.\n\n"
        "    runner = CliRunner()\n    result = runner.invoke(command)\n\n"
        ">>> result.exit_code\n0\n"
    )
    text = extractive_answer(
        "How to test the command runner result?", [Source(chunk("t.md", doc), 0.5)]
    )
    assert "```\nrunner = CliRunner()\nresult = runner.invoke(command)\n```" in text


def test_snippet_keeps_lines_of_code() -> None:
    """A source's snippet keeps line breaks and indentation, blank runs collapsed."""
    text = "Example:\n\n\n\n```python\ndef f():\n    return 1\n```\n"
    snippet = Source(chunk("a.md", text), 0.5).snippet()
    assert snippet == "Example:\n\n```python\ndef f():\n    return 1\n```"
    assert Source(chunk("a.md", "word " * 100), 0.5).snippet(limit=20).endswith("…")


FEATURES = "\n".join(
    f"- {name}"
    for name in (
        "Keep-Alive and Connection Pooling",
        "International Domains and URLs",
        "Sessions with Cookie Persistence",
        "Basic and Digest Authentication",
        "Automatic Content Decompression",
        "Multi-part File Uploads",
        "SOCKS Proxy Support",
        "Connection Timeouts",
        "Streaming Downloads",
        "Chunked HTTP Requests",
    )
)


def test_a_list_is_quoted_as_a_list_cut_to_the_items_that_match() -> None:
    """A bullet list of short items stays a list, one item per line; a long one keeps the
    items that share the question's words and marks what it left out."""
    short = "- Install the package\n- Run make test\n  from the checkout"
    text = extractive_answer("How do I run the tests?", [Source(chunk("r.md", short), 0.5)])
    assert "> - Install the package\n> - Run make test from the checkout [1]" in text
    text = extractive_answer(
        "How do I stream downloads?", [Source(chunk("README.md", FEATURES), 0.5)]
    )
    lines = [line for line in text.splitlines() if line.startswith("> - ")]
    assert "> - Streaming Downloads" in lines
    assert len([line for line in lines if not line.startswith("> - …")]) == 8
    assert lines[-1] == "> - … [1]" and "> - …" in lines[:-1]


def test_a_list_of_sentences_is_quoted_sentence_by_sentence() -> None:
    """Long list items are prose: each is a sentence of its own, never glued together."""
    items = (
        "- The client keeps connections open between requests to the same host.\n"
        "- Streaming a response reads its body in chunks instead of loading it whole at once."
    )
    text = extractive_answer("How do I stream a response body?", [Source(chunk("a.md", items), 1)])
    assert "> Streaming a response reads its body in chunks instead of loading it whole" in text
    assert "same host. Streaming" not in text


def test_a_question_naming_a_release_is_answered_from_its_notes() -> None:
    """The notes of the release asked about share no word with "what changed in 3.0.2?";
    a configuration page's "Changed in version ..." lines share two. The notes are quoted."""
    notes = chunk(
        "CHANGES.rst",
        "- Correct the type of the loader property.\n- Fix an error with two CLI options.",
        title="Version 3.0.2",
    )
    config = chunk(
        "docs/config.rst",
        "Changed in version 1.0: two logging settings were removed.\n\n"
        "Changed in version 2.3: the environment setting was removed.",
        title="Configuration",
    )
    answer = extractive_answer(
        "What changed in version 3.0.2?", [Source(config, 0.6), Source(notes, 0.5)]
    )
    assert "loader property" in answer and "two CLI options" in answer
    assert "Changed in version" not in answer
    other = extractive_answer(
        "What changed in version 2.9?", [Source(config, 0.6), Source(notes, 0.5)]
    )
    assert "Changed in version" in other  # no section names 2.9: the words decide


def test_a_question_about_the_project_quotes_the_readme_opening() -> None:
    """ "What does this project do?" shares no word with the sentence that answers it; the
    README's opening is quoted from its defining sentence on, not what shares words."""
    readme = chunk(
        "README.md",
        "**Documentation**: https://example.org\n\n"
        "Quill is a library for building command line tools that people enjoy using.\n\n"
        "It is based on type hints.",
        title="Quill",
    )
    other = chunk("docs/faq.md", "This project does not do telemetry.", title="FAQ")
    answer = extractive_answer(
        "What does this project do?", [Source(readme, 0.5), Source(other, 0.3)]
    )
    assert "Quill is a library for building command line tools" in answer
    assert "based on type hints" in answer
    assert "Documentation" not in answer and "telemetry" not in answer
    # Another question over the same passages is answered by the words it shares.
    assert "telemetry" in extractive_answer(
        "Does this project do telemetry?", [Source(readme, 0.5), Source(other, 0.3)]
    )


def test_a_sentence_quoting_the_question_is_not_its_answer() -> None:
    """Notes about a question ("'How do I run the tests?' is answered from ...") share all
    its words and answer nothing; the sentence that does is quoted instead."""
    notes = chunk(
        "docs/benchmarks.md",
        '"How do I run the tests?" is answered first from the README in every run.',
        title="Benchmarks",
    )
    guide = chunk("CONTRIBUTING.md", "Run the test suite with make test.", title="Tests")
    answer = extractive_answer("How do I run the tests?", [Source(notes, 0.5), Source(guide, 0.4)])
    assert "make test" in answer and "answered first" not in answer
    # Code that mentions the question (a comment, a string) still shows how it is done.
    readme = chunk(
        "README.md",
        '```sh\nmake demo  # answer "How do I run the tests?"\nmake test\n```',
        title="Try it",
    )
    assert "make test" in extractive_answer("How do I run the tests?", [Source(readme, 0.4)])


def test_a_sentence_that_announces_a_command_comes_with_it() -> None:
    """ "To run the tests, use:" is completed by the command after it, which shares fewer of
    the question's words than the sentences around it."""
    guide = chunk(
        "docs/contributing.md",
        "To run the tests, use:\n\n```shell\n$ scripts/check\n```\n\n"
        "For example, to run one test file:\n\n```shell\n$ scripts/check tests/test_app.py\n```\n\n"
        "The tests run on every push.",
        title="Testing",
    )
    answer = extractive_answer("How do I run the tests?", [Source(guide, 0.5)])
    assert "To run the tests, use:" in answer and "$ scripts/check\n" in answer
    assert "$ scripts/check tests/test_app.py" in answer
    assert answer.index("To run the tests, use:") < answer.index("$ scripts/check\n")
