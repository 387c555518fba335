"""Answers rendered as HTML: Markdown, highlighted code, linked citations, nothing executable."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from core.types import Source
from tests.fakes import chunk
from web.render import confidence_words, markdown_html, sanitise


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The elements a browser would make of `html`, with their attributes."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


SOURCES = [
    Source(
        chunk("docs/cors.md", "CORS"), 0.7, "https://github.com/o/r/blob/c0ffee/docs/cors.md#L1-L5"
    ),
    Source(chunk("docs/testing.md", "Tests"), 0.5, None),
]


def test_markdown_code_and_citations() -> None:
    """Emphasis and lists become HTML, fenced code is highlighted by class, and [n] links to
    source n's permalink (or its entry in the list) but not inside code."""
    html = markdown_html(
        "Use **CORSMiddleware** [1][2]:\n\n"
        "```python\napp.add_middleware(X)  # [1]\n```\n\n- one [3]",
        SOURCES,
    )
    assert "<strong>CORSMiddleware</strong>" in html
    assert 'href="https://github.com/o/r/blob/c0ffee/docs/cors.md#L1-L5"' in html
    assert 'href="#source-2"' in html
    assert '<pre class="highlight"><code>' in html and 'class="n"' in html
    assert "# [1]</span>" in html, "a citation inside code stays text"
    assert "<li>one [3]</li>" in html, "a number with no source stays text"
    assert 'rel="noopener noreferrer"' in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<svg onload=alert(1)>",
        '<iframe src="https://evil.example"></iframe>',
    ],
)
def test_hostile_text_is_inert(hostile: str) -> None:
    """Raw HTML in model text is escaped; no tag, event attribute or javascript: URL survives."""
    html = markdown_html(f"Answer {hostile} end")
    elements = parsed(html)
    assert {tag for tag, _ in elements} <= {"p", "a"}
    for _, attrs in elements:
        assert not any(name.startswith("on") for name in attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript")
    assert "end" in html


def test_sanitise_strips_what_markdown_would_not_make() -> None:
    """Defence in depth: even HTML handed to the sanitiser directly loses scripts and handlers."""
    cleaned = sanitise('<p onclick="x()">a<script>bad()</script><a href="javascript:x">l</a></p>')
    assert cleaned == '<p>a<a rel="noopener noreferrer">l</a></p>'


def test_confidence_in_words() -> None:
    assert confidence_words(0.9, abstained=False) == "High confidence"
    assert confidence_words(0.5, abstained=False) == "Medium confidence"
    assert confidence_words(0.1, abstained=False).startswith("Low confidence")
    assert confidence_words(0.9, abstained=True) == "Not enough evidence to answer"
