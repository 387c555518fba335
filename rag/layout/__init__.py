"""A repository read the way its maintainers laid it out: translations, includes, file roles.

Pure functions over paths and texts; the indexer calls `read_layout` once per run and uses
the result to leave out translations, to put included examples into their pages' passages
and to store each file's role with its chunks.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.types import FileRole
from rag.chunking.ids import language_for
from rag.layout.includes import Include, expand_chunk, expand_chunks, find_includes, is_alias
from rag.layout.mirrors import Mirrors, find_mirrors
from rag.layout.roles import classify
from rag.layout.variants import find_variants

__all__ = ["Include", "Layout", "expand_chunk", "expand_chunks", "read_layout"]

# Bumped when the rules change, so every file is re-read (its vectors are reused) once.
LAYOUT_VERSION = "9"
_PROSE = frozenset({"markdown", "rst", "text"})


class TextFile(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def sha256(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Layout:
    """What `read_layout` found; paths are repository-relative POSIX."""

    main_language: str
    roles: dict[str, FileRole]
    left_out: dict[str, str]  # path -> why ("translation (de)")
    includes: dict[str, list[Include]] = field(default_factory=dict)  # page -> its includes
    # file -> pages: the files pages include, and their variants (rag.layout.variants)
    included_by: dict[str, list[str]] = field(default_factory=dict)
    translated_trees: dict[str, str] = field(default_factory=dict)  # tree -> language code
    translated_from: dict[str, str] = field(default_factory=dict)  # kept translation -> original

    def digest(self, path: str, sha256: str, shas: dict[str, str]) -> str:
        """The hash that decides whether `path` must be re-chunked: its content, its role and
        the content of every file it includes."""
        parts = [LAYOUT_VERSION, sha256, self.roles.get(path, FileRole.UNKNOWN).value]
        parts += sorted({shas.get(i.target, "") for i in self.includes.get(path, ())})
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def read_layout(files: Sequence[TextFile], *, languages: Iterable[str] = ()) -> Layout:
    """The layout of a repository's files; translations other than `languages` are left out."""
    texts = {f.path: f.text for f in files}
    mirrors: Mirrors = find_mirrors(list(texts), texts.__getitem__)
    left_out = {path: f"translation ({code})" for path, code in mirrors.left_out(languages).items()}
    kept = [path for path in texts if path not in left_out]
    known = frozenset(kept)
    includes: dict[str, list[Include]] = {}
    included_by: dict[str, list[str]] = defaultdict(list)
    aliases: dict[str, list[str]] = {}
    for path in kept:
        if language_for(path) not in _PROSE:
            continue
        found = [i for i in find_includes(path, texts[path], known) if i.target != path]
        if not found:
            continue
        includes[path] = found
        targets = sorted({i.target for i in found})
        if all(language_for(t) in _PROSE for t in targets) and is_alias(
            path, texts[path], found, texts.__getitem__
        ):
            # The page is the included document under another name: its hits count for
            # that file, which keeps its own slot (and its role) in the ranking.
            aliases[path] = targets
            continue
        for target in targets:
            included_by[target].append(path)
    code = [
        p for p in kept if language_for(p) not in (*_PROSE, None) and p not in mirrors.translations
    ]
    # Files that every page including them shows only part of (a line range, a marker).
    shown = [
        (i.target, bool(i.lines or i.start_after or i.end_before))
        for f in includes.values()
        for i in f
    ]
    excerpted = {t for t, _ in shown} - {t for t, part in shown if not part}
    included_by.update(find_variants(code, included_by, texts))
    roles = {}
    for path in kept:
        if path in mirrors.translations:
            roles[path] = FileRole.TRANSLATION
        else:
            roles[path] = classify(
                path, texts[path], included=path in included_by, excerpted=path in excerpted
            )
    for alias, targets in aliases.items():
        included_by[alias] = [*included_by.get(alias, ()), *targets]
        if len(targets) == 1 and targets[0] in roles:
            roles[alias] = roles[targets[0]]  # a changelog under another name is a changelog
    return Layout(
        main_language=mirrors.main_language,
        roles=roles,
        left_out=left_out,
        includes=includes,
        included_by=dict(included_by),
        translated_trees=mirrors.trees,
        translated_from={
            path: original
            for path, original in mirrors.originals.items()
            if path in known and original in known
        },
    )
