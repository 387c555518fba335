"""Documents are chunked along headings into coherent, bounded, stably identified passages."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from core.types import Chunk, ChunkKind
from rag.chunking import chunk_file
from rag.chunking.docs import MAX_CHARS, chunk_document
from rag.chunking.lines import split_lines
from rag.chunking.markup import clean_markup

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "corpora" / "fastapi" / "docs"

FILLER = (
    "FastAPI validates the request against the declared types and documents it in the "
    "OpenAPI schema, so the editor can complete names and catch mistakes early."
)


def _markdown(text: str, *, max_chars: int = MAX_CHARS) -> list[Chunk]:
    return chunk_document(
        kb="kb", path="docs/guide.md", text=text, language="markdown", max_chars=max_chars
    )


def _drawn_from(chunk: Chunk, lines: list[str]) -> bool:
    """Whether the chunk's lines appear, in order, within its start..end lines of the source."""
    window = lines[chunk.start_line - 1 : chunk.end_line]
    source = iter(window)
    ordered = all(any(line == candidate for candidate in source) for line in chunk.text.split("\n"))
    text_lines = chunk.text.split("\n")
    return ordered and window[0] == text_lines[0] and window[-1] == text_lines[-1]


def test_a_changelogs_releases_stand_side_by_side() -> None:
    """Top-level release headings are peers: the first release is no title over the rest."""
    text = "".join(
        f"Version {v}\n-------------\n\nReleased {d}\n\n-   {FILLER}\n\n\n"
        for v, d in (("3.0.1", "2024-01-02"), ("3.0.0", "2023-09-30"), ("0.3.1", "2010-05-28"))
    )
    chunks = chunk_document(kb="kb", path="CHANGES.rst", text=text, language="rst")
    assert [c.title for c in chunks] == ["Version 3.0.1", "Version 3.0.0", "Version 0.3.1"]


def test_a_small_release_is_a_passage_of_its_own() -> None:
    """A one-line patch release neither joins the next release nor takes it in: merged, it
    would be titled, and found, as the other one. Other small sections still merge."""
    text = dedent(
        f"""\
        # Changelog

        ## 3.0.3

        - Fix the reloader on Windows.

        ## 3.0.2

        - Correct the type of `jinja_loader`.

        ## 3.0.1

        - {FILLER}

        ## 3.0.0

        - Remove deprecated code.

        ## Notes

        Short.

        ## More notes

        {FILLER}
        """
    )
    chunks = _markdown(text)
    assert [c.title for c in chunks] == [
        "Changelog > 3.0.3",
        "Changelog > 3.0.2",
        "Changelog > 3.0.1",
        "Changelog > 3.0.0",
        "Changelog > More notes",
    ]
    assert "jinja_loader" in chunks[1].text and "reloader" not in chunks[1].text
    assert "Short." in chunks[4].text  # a small section that names no release still merges


def test_titles_are_heading_paths_rooted_at_the_first_h1() -> None:
    """Each section is titled with its heading path, without `{ #anchor }` attributes."""
    text = dedent(
        f"""\
        # Tutorial {{ #tutorial }}

        {FILLER}

        ## Query Parameters

        {FILLER}

        ### Optional parameters

        {FILLER}

        ## Defaults

        {FILLER}
        """
    )
    titles = [c.title for c in _markdown(text)]
    assert titles == [
        "Tutorial",
        "Tutorial > Query Parameters",
        "Tutorial > Query Parameters > Optional parameters",
        "Tutorial > Defaults",
    ]


def test_chunk_text_is_the_section_with_its_heading_and_exact_lines() -> None:
    """A chunk's text is its section's lines, heading included, and its lines are 1-based."""
    text = f"# Title\n\n{FILLER}\n\n## Next\n\n{FILLER}\n"
    first, second = _markdown(text)
    assert (first.start_line, first.end_line) == (1, 3)
    assert (second.start_line, second.end_line) == (5, 7)
    assert second.text == f"## Next\n\n{FILLER}"
    assert second.kind is ChunkKind.DOC
    assert second.language == "markdown"


def test_hash_lines_in_fenced_code_are_not_headings_and_fences_stay_whole() -> None:
    """`#` comments inside ``` or ~~~ fences are code, and a fence is never cut."""
    code = "\n".join(f"# step {n}\nvalue_{n} = compute({n})\n" for n in range(12))
    text = f"# Setup\n\n{FILLER}\n\n```python\n{code}```\n\n~~~\n# not a heading\n~~~\n\n{FILLER}\n"
    chunks = _markdown(text, max_chars=600)
    assert {c.title for c in chunks} == {"Setup"}
    fenced = [c for c in chunks if "```python" in c.text]
    assert len(fenced) == 1
    assert fenced[0].text.count("```") == 2


def test_a_fence_longer_than_the_limit_alone_is_cut_by_lines() -> None:
    """Only a fenced block that alone exceeds the limit is split, at line boundaries."""
    code = "\n".join(f"print('line {n} of a long example')" for n in range(80))
    text = f"# Big\n\n```python\n{code}\n```\n"
    lines = split_lines(text)
    chunks = _markdown(text, max_chars=800)
    assert len(chunks) > 1
    assert all(len(c.text) <= 800 for c in chunks)
    assert all(c.text == "\n".join(lines[c.start_line - 1 : c.end_line]) for c in chunks)


def test_front_matter_is_dropped_and_line_numbers_still_match() -> None:
    """YAML front matter is not indexed; lines still count from the top of the file."""
    text = f"---\nhide:\n  - navigation\n---\n\n# Release Notes\n\n{FILLER}\n"
    (chunk,) = _markdown(text)
    assert chunk.title == "Release Notes"
    assert "navigation" not in chunk.text
    assert (chunk.start_line, chunk.end_line) == (6, 8)


def test_setext_headings_are_recognised_but_thematic_breaks_are_not() -> None:
    """`===` and `---` underlines make headings; a `---` after a blank line is a rule."""
    text = f"Guide\n=====\n\n{FILLER}\n\nInstall\n-------\n\n{FILLER}\n\n---\n\n{FILLER}\n"
    titles = [c.title for c in _markdown(text)]
    assert titles == ["Guide", "Guide > Install"]


def test_rst_levels_follow_the_order_adornments_first_appear() -> None:
    """An overlined title is the root; underline styles nest in order of appearance."""
    text = dedent(
        f"""\
        ========
         Django
        ========

        {FILLER}

        Models
        ------

        {FILLER}

        Fields
        ~~~~~~

        {FILLER}

        Views
        -----

        {FILLER}
        """
    )
    chunks = chunk_document(kb="kb", path="docs/index.rst", text=text, language="rst")
    assert [c.title for c in chunks] == [
        "Django",
        "Django > Models",
        "Django > Models > Fields",
        "Django > Views",
    ]
    assert chunks[0].start_line == 1


def test_long_sections_split_between_paragraphs_with_exact_line_ranges() -> None:
    """A section over the limit becomes pieces that end at paragraph breaks and fit the limit."""
    paragraphs = "\n\n".join(f"Paragraph {n}. {FILLER}" for n in range(20))
    text = f"# Long\n\n{paragraphs}\n"
    lines = split_lines(text)
    chunks = _markdown(text, max_chars=1_000)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert len(chunk.text) <= 1_000
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        assert chunk.text.split("\n")[-1].startswith("Paragraph")
    assert [c.start_line for c in chunks[1:]] == [c.end_line + 2 for c in chunks[:-1]]


def test_tiny_sections_are_merged_into_the_next_one() -> None:
    """A heading with little or no text joins the following section instead of standing alone."""
    text = f"# Guide\n\n## Advanced\n\n### Caching\n\n{FILLER}\n\n## Short\n\nOnly a line.\n"
    chunks = _markdown(text)
    assert [c.title for c in chunks] == ["Guide > Advanced > Caching"]
    assert chunks[0].text.startswith("# Guide\n\n## Advanced\n\n### Caching")
    assert chunks[0].text.endswith("Only a line.")


def test_without_headings_the_file_name_is_the_title_and_text_splits_by_paragraph() -> None:
    """Plain text is cut into paragraph groups titled with the file name."""
    text = "\n\n".join(f"{FILLER} ({n})" for n in range(15))
    chunks = chunk_file(kb="kb", path="LICENSE", text=text)
    assert len(chunks) > 1
    assert {c.title for c in chunks} == {"LICENSE"}
    assert {c.language for c in chunks} == {"text"}
    assert all(len(c.text) <= MAX_CHARS for c in chunks)


def test_html_comments_are_dropped_and_directives_kept() -> None:
    """Whole-line HTML comments are left out; `{* file *}` include directives stay."""
    directive = "{* ../../docs_src/x.py hl[3] *}"
    text = f"# Title\n\n<!-- sponsors\nhidden -->\n\n{directive}\n\n{FILLER}\n"
    (chunk,) = _markdown(text)
    assert "sponsors" not in chunk.text
    assert directive in chunk.text
    assert _drawn_from(chunk, split_lines(text))


def test_ids_are_stable_and_change_only_for_the_edited_section() -> None:
    """Same input gives the same ids; editing one section changes that chunk's id alone."""
    sections = [f"## Part {n}\n\n{FILLER} {n}" for n in range(4)]
    before = _markdown("# Doc\n\n" + "\n\n".join(sections))
    assert [c.id for c in before] == [c.id for c in _markdown("# Doc\n\n" + "\n\n".join(sections))]
    sections[2] = sections[2].replace("early", "late")
    after = _markdown("# Doc\n\n" + "\n\n".join(sections))
    changed = [b.title for b, a in zip(before, after, strict=True) if b.id != a.id]
    assert changed == ["Doc > Part 2"]


def _corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.md")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not _corpus_files(), reason="the FastAPI corpus is not checked out beside")
def test_every_fastapi_doc_chunks_into_bounded_passages_drawn_from_the_file() -> None:
    """Over the real FastAPI docs: chunks are non-empty, inside the file and within the limit,
    each the clean text of its lines."""
    for file in _corpus_files():
        text = file.read_text(encoding="utf-8")
        lines = split_lines(text)
        path = file.relative_to(CORPUS).as_posix()
        chunks = chunk_file(kb="fastapi", path=path, text=text)
        assert chunks, path
        for chunk in chunks:
            assert chunk.text.strip(), (path, chunk.start_line)
            assert 1 <= chunk.start_line <= chunk.end_line <= len(lines), (path, chunk.title)
            window = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
            assert chunk.text == clean_markup(window, "markdown"), (path, chunk.start_line)
            single_line = chunk.start_line == chunk.end_line
            assert len(chunk.text) <= MAX_CHARS or single_line, (path, chunk.start_line)


def test_rst_sections_underlined_alike_are_siblings() -> None:
    """In reStructuredText several sections of the first style are peers (the document
    title is a lone top-level section), while a later Markdown H1 nests under the first."""
    sections = ["Donations", "For enterprise", "What's a Task Queue?"]
    text = "".join(f"{t}\n{'=' * len(t)}\n\n{FILLER}\n\n" for t in sections)
    chunks = chunk_document(kb="kb", path="README.rst", text=text, language="rst")
    assert [c.title for c in chunks] == sections
    markdown = "".join(f"# {t}\n\n{FILLER}\n\n" for t in sections)
    nested = chunk_document(kb="kb", path="README.md", text=markdown, language="markdown")
    assert [c.title for c in nested] == [
        "Donations",
        "Donations > For enterprise",
        "Donations > What's a Task Queue?",
    ]
