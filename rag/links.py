"""Links between the files of a knowledge base, as written in Markdown, HTML and reST passages."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Container
from urllib.parse import unquote

_TARGETS = (
    # Markdown `[text](target "title")` and `![alt](target)`.
    re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)\n]*)?\)"),
    # Markdown reference definitions `[ref]: target`.
    re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*<?([^\s>]+)>?", re.MULTILINE),
    # HTML `<a href="target">`.
    re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE),
    # reST `text <target>`_ and :doc:`text <target>` / :doc:`target`.
    re.compile(r"`[^`<\n]*<([^`>\n]+)>`_{1,2}"),
    re.compile(r":doc:`(?:[^`<\n]*<)?([^`>\n]+)>?`"),
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PAGE_SUFFIXES = (".md", ".rst", ".mdx", ".txt")
_INDEX_NAMES = ("index.md", "README.md", "index.rst", "README.rst")


def linked_paths(path: str, text: str, known: Container[str]) -> list[str]:
    """The other files of `known` that the passage `text` of file `path` links to.

    Targets are resolved relative to the passage's folder; fragments and queries are
    ignored. A target without a suffix, ending in `/` or built as `.html` (how rendered
    docs link) is matched to the page source (`.md`, `.rst`, an index or README). URLs,
    site-absolute targets and targets outside the repository are not followed. Paths are
    returned once each, in order of first appearance.
    """
    folder = posixpath.dirname(path)
    found: list[str] = []
    for pattern in _TARGETS:
        for match in pattern.finditer(text):
            target = _resolve(folder, match.group(1), known)
            if target is not None and target != path and target not in found:
                found.append(target)
    return found


def _resolve(folder: str, raw: str, known: Container[str]) -> str | None:
    target = unquote(raw.split("#", 1)[0].split("?", 1)[0]).strip()
    if not target or target.startswith("/") or _SCHEME.match(target):
        return None
    directory = target.endswith("/")
    joined = posixpath.normpath(posixpath.join(folder, target))
    if joined == ".." or joined.startswith("../"):
        return None
    stem, suffix = posixpath.splitext(joined)
    if directory or not suffix:
        base = joined
        candidates = [*(base + s for s in _PAGE_SUFFIXES), *_in_folder(base)]
    elif suffix == ".html":
        candidates = [stem + s for s in _PAGE_SUFFIXES]
        if posixpath.basename(stem) == "index":
            candidates.extend(_in_folder(posixpath.dirname(stem)))
    else:
        candidates = [joined]
    return next((c for c in candidates if c in known), None)


def _in_folder(folder: str) -> list[str]:
    if folder in ("", "."):
        return list(_INDEX_NAMES)
    return [posixpath.join(folder, name) for name in _INDEX_NAMES]
