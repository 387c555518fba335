"""Stable chunk ids and the language a file is chunked as."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

_BY_SUFFIX: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".rb": "ruby",
    ".sh": "shell",
    ".bash": "shell",
    ".toml": "toml",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".json": "json",
    ".ini": "ini",
    ".cfg": "ini",
    ".mk": "makefile",
}

_BY_NAME: dict[str, str] = {
    "makefile": "makefile",
    "gnumakefile": "makefile",
    "gemfile": "ruby",
    "rakefile": "ruby",
}

# Extension-less files that are prose by convention (README, LICENSE, ...).
_TEXT_NAMES = frozenset(
    {
        "readme",
        "license",
        "licence",
        "copying",
        "contributing",
        "authors",
        "contributors",
        "changelog",
        "changes",
        "history",
        "news",
        "notice",
        "security",
        "code_of_conduct",
        "maintainers",
    }
)


def chunk_id(kb: str, path: str, title: str, text: str) -> str:
    """A 32-hex-digit id derived from the chunk's content.

    Line numbers are deliberately left out, so editing one section of a file leaves the
    ids of its other chunks unchanged.
    """
    digest = hashlib.sha256("\0".join((kb, path, title, text)).encode("utf-8"))
    return digest.hexdigest()[:32]


def language_for(path: str) -> str | None:
    """The language name a repository file is chunked as, or None to skip the file.

    Prose: markdown, rst, text. Parsed code: python, javascript, typescript, tsx, java,
    go. Everything else returned is chunked in line windows.
    """
    name = PurePosixPath(path).name
    lowered = name.lower()
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    suffix = PurePosixPath(lowered).suffix
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    stem = lowered.replace("-", "_")
    if not suffix and (stem in _TEXT_NAMES or stem.split("_")[0] in _TEXT_NAMES):
        return "text"
    return None
