"""Answers as safe HTML: Markdown rendered, code highlighted, citations linked, then sanitised.

Model text is untrusted. Raw HTML in it is escaped by the Markdown renderer and the result
goes through nh3 with a short list of tags and attributes, so `<script>`, event attributes
and `javascript:` links never reach a page, whatever the model or the question wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from core.types import Answer, Source

_TAGS = {
    "a", "p", "br", "hr", "strong", "em", "del", "code", "pre", "span", "div", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr",
    "th", "td",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
_URL_SCHEMES = {"http", "https", "mailto"}
_CITATION = re.compile(r"\[(\d{1,2})\]")
_CODE_BLOCK = re.compile(r"(<pre[\s>].*?</pre>|<code[\s>].*?</code>|<a[\s>].*?</a>)", re.S)
_FORMATTER = HtmlFormatter(nowrap=True)
CODE_CSS_SCOPE = ".highlight"


def code_stylesheet() -> str:
    """The CSS of highlighted code (Pygments' classes under `.highlight`)."""
    return str(HtmlFormatter().get_style_defs(CODE_CSS_SCOPE))


def _highlight(code: str, language: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(language.split()[0]) if language.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes the code itself
    body = highlight(code, lexer, _FORMATTER)
    return f'<pre class="highlight"><code>{body}</code></pre>\n'


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable("table")


def _link_citations(html: str, sources: Sequence[Source]) -> str:
    """`[n]` outside code and links becomes a link to source n (its permalink, else its
    entry in the list of sources); numbers with no source stay text."""

    def cite(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if not 1 <= number <= len(sources):
            return match.group(0)
        url = sources[number - 1].url or f"#source-{number}"
        return f'<a class="cite" href="{url}" title="source {number}">[{number}]</a>'

    parts = _CODE_BLOCK.split(html)
    return "".join(p if i % 2 else _CITATION.sub(cite, p) for i, p in enumerate(parts))


def sanitise(html: str) -> str:
    """HTML reduced to harmless tags and attributes; links get rel=noopener noreferrer."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
        clean_content_tags={"script", "style"},
    )


def markdown_html(text: str, sources: Sequence[Source] = ()) -> str:
    """Markdown text as sanitised HTML, with highlighted code and linked citations."""
    return sanitise(_link_citations(_MARKDOWN.render(text), sources))


def confidence_words(confidence: float, *, abstained: bool) -> str:
    """How sure the answer is, in words for people."""
    if abstained:
        return "Not enough evidence to answer"
    if confidence >= 0.7:
        return "High confidence"
    if confidence >= 0.4:
        return "Medium confidence"
    return "Low confidence: check the sources"


@dataclass(frozen=True, slots=True)
class SourceView:
    """One cited source as a page shows it."""

    number: int
    path: str
    title: str
    lines: str
    url: str | None
    commit: str


def source_views(sources: Sequence[Source]) -> list[SourceView]:
    views = []
    for number, s in enumerate(sources, start=1):
        c = s.chunk
        lines = f"{c.start_line}" if c.end_line <= c.start_line else f"{c.start_line}–{c.end_line}"
        url = s.url if s.url and s.url.startswith(("https://", "http://")) else None
        views.append(SourceView(number, c.path, c.title, lines, url, c.commit[:12]))
    return views


def source_records(sources: Sequence[Source]) -> list[dict[str, object]]:
    """The sources as JSON for the page's script, which shows them with DOM text APIs."""
    return [
        {
            "number": v.number,
            "path": v.path,
            "title": v.title,
            "lines": v.lines,
            "url": v.url,
            "commit": v.commit,
        }
        for v in source_views(sources)
    ]


def answer_record(answer: Answer, *, replaced: bool = False) -> dict[str, object]:
    """The final event of a streamed answer: its sanitised HTML and what the page shows."""
    return {
        "interaction_id": answer.interaction_id,
        "html": markdown_html(answer.text, answer.sources),
        "text": answer.text,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "confidence_words": confidence_words(answer.confidence, abstained=answer.abstained),
        "model": answer.model,
        "extractive": answer.extractive,
        "replaced": replaced,
    }
