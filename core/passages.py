"""What a passage holds, judged from its text: whether it is boilerplate that answers nothing.

A code passage of nothing but imports, a re-export list or a licence header matches many
questions by its words (module names, "test", "client") while saying nothing a newcomer
can use. Retrieval ranks such passages low and the answer's confidence ignores them.
"""

from __future__ import annotations

import re

from core.types import Chunk, ChunkKind

# Statements that only bring names in or out: imports in the common languages, Go's
# package clause, Python's __all__ and future imports, C's includes, shebangs.
_IMPORT_LINE = re.compile(
    r"^\s*(?:from\s+[\w.]+\s+import\b|import\b|package\s+[\w.]+|__all__\s*[:=]|#include\b"
    r"|#!|use\s+[\w:]+|require\s*\(|(?:const|let|var)\s+\S+\s*=\s*require\s*\(|export\s+\*"
    r"|export\s*\{[^}]*\}\s*from\b|extern\s+crate\b|@file:|module\s+[\w.]+\s*$)"
)
_COMMENT_LINE = re.compile(r"^\s*(?:#|//|/\*|\*|\*/|--|;|\"\"\"|''')")
_CLOSERS = re.compile(r"^[\s)\]}]*[,;]?\s*$")
_PROSE_KINDS = frozenset({ChunkKind.DOC, ChunkKind.MEMORY})


def is_boilerplate(chunk: Chunk) -> bool:
    """Whether a code passage is only imports, exports, comments and closing brackets.

    Prose is never boilerplate here: a short page can still answer a question.
    """
    if chunk.kind in _PROSE_KINDS:
        return False
    return _code_lines(chunk.text) == 0


def _code_lines(text: str) -> int:
    """Lines that are neither imports (with their continuations), comments, blank nor
    closing brackets."""
    count = 0
    open_brackets = 0
    for line in text.splitlines():
        stripped = line.strip()
        if open_brackets > 0:  # inside a parenthesised import list
            open_brackets += _balance(stripped)
            continue
        if not stripped or _COMMENT_LINE.match(line) or _CLOSERS.match(stripped):
            continue
        if _IMPORT_LINE.match(line):
            open_brackets = max(_balance(stripped), 0)
            continue
        count += 1
    return count


def _balance(line: str) -> int:
    return sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
