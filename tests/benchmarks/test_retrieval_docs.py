"""`python -m benchmarks.retrieval --write-docs` replaces the figures and keeps the text that
reads them, and every other section."""

from __future__ import annotations

from benchmarks.retrieval import replace_retrieval_table

DOC = """# Benchmarks

## Retrieval

`old command`, 2026-01-01.

| dev set | Leximind |
|---|---|
| a | 0.1 |

Our reading of the figures.

- a target, missed.

| another table | kept |
|---|---|

## Answer confidence

Unrelated.
"""


def test_the_table_is_replaced_and_the_reading_of_it_kept() -> None:
    head = "## Retrieval\n\n`new command`, 2026-02-02.\n\n"
    head += "| dev set | Leximind |\n|---|---|\n| a | 0.9 |\n"
    text = replace_retrieval_table(DOC, head)
    assert "`new command`" in text and "| a | 0.9 |" in text
    assert "old command" not in text and "| a | 0.1 |" not in text
    assert "Our reading of the figures.\n\n- a target, missed." in text
    assert "| another table | kept |" in text
    assert text.endswith("## Answer confidence\n\nUnrelated.\n")
    assert text.count("## Retrieval") == 1


def test_a_document_without_the_section_gets_it_at_the_end() -> None:
    text = replace_retrieval_table("# Benchmarks\n\n## Other\n\nText.\n", "## Retrieval\n\n| x |\n")
    assert text == "# Benchmarks\n\n## Other\n\nText.\n\n## Retrieval\n\n| x |\n"
