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
