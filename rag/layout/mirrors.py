"""Translations: documentation trees that mirror the main one in another language.

A tree is a folder named by a language code (`docs/de/...`, `locale/ja/LC_MESSAGES/...`) or
the files of a folder with a language suffix (`README.ja.md` beside `README.md`). It is a
translation when it mirrors a sibling tree or the files around it (the same relative paths,
extensions aside) or sits under a localisation folder, and when its prose is in another
language than the repository's main one. The text decides, so a `docs/es/` about a search
engine, written in the main language, stays.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from rag.layout.languages import UNKNOWN, detect, language_code

_PROSE_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rst", ".txt", ".po", ""})
_LOCALE_FOLDERS = frozenset({"locale", "locales", "i18n", "l10n", "translations", "lang", "langs"})
_PO_STRING = re.compile(r'^msgstr\s+"(.*)"$|^"(.*)"$', re.MULTILINE)
_SAMPLE_FILES = 12
_SAMPLE_CHARS = 4_000  # of each sampled file
_MIN_SHARED = 0.3  # share of a tree's files that must mirror another tree's


@dataclass(frozen=True, slots=True)
class Tree:
    """Files in one language: under `prefix/code/` or named `*.code.*` in `prefix`."""

    prefix: str
    code: str
    suffixed: bool = False

    @property
    def localised(self) -> bool:
        """Under a localisation folder (`locale/de/`): it mirrors the folder around that."""
        return PurePosixPath(self.prefix).name.lower() in _LOCALE_FOLDERS

    @property
    def base(self) -> str:
        """The folder whose files this tree mirrors."""
        if self.localised:
            parent = str(PurePosixPath(self.prefix).parent)
            return "" if parent == "." else parent
        return self.prefix

    @property
    def label(self) -> str:
        if self.suffixed:
            return f"{self.prefix}/*.{self.code}.*" if self.prefix else f"*.{self.code}.*"
        return f"{self.prefix}/{self.code}/" if self.prefix else f"{self.code}/"


@dataclass(slots=True)
class TreeFacts:
    """A tree's files (path -> path inside the tree, extension dropped) and its prose language."""

    files: dict[str, str] = field(default_factory=dict)
    language: str = UNKNOWN
    mirrored: bool = False


@dataclass(frozen=True, slots=True)
class Mirrors:
    """The repository's main language and each translated file's language code."""

    main_language: str
    translations: dict[str, str]  # path -> language code of its tree ("de", "pt-br")
    trees: dict[str, str]  # tree label -> language code, for the translated trees
    originals: dict[str, str] = field(default_factory=dict)  # translated path -> original

    def left_out(self, languages: Iterable[str]) -> dict[str, str]:
        """Translated paths whose language is not among `languages` ("all" keeps every one)."""
        wanted = {lang.strip().lower() for lang in languages if lang.strip()}
        if "all" in wanted:
            return {}
        return {
            path: code
            for path, code in self.translations.items()
            if code not in wanted and code.split("-")[0] not in wanted
        }


def _tree_of(path: str) -> tuple[Tree, str] | None:
    """The language tree a path belongs to and its path inside it, or None."""
    parts = PurePosixPath(path).parts
    for index, part in enumerate(parts[:-1]):
        if language_code(part):
            inner = [p for p in parts[index + 1 :] if p != "LC_MESSAGES"] or [parts[-1]]
            rest = PurePosixPath(*inner)
            return Tree("/".join(parts[:index]), part.lower()), str(rest.with_suffix(""))
    name = parts[-1]
    pieces = name.split(".")
    if len(pieces) >= 3 and language_code(pieces[-2]) and f".{pieces[-1]}" in _PROSE_SUFFIXES:
        base = ".".join(pieces[:-2])
        return Tree("/".join(parts[:-1]), pieces[-2].lower(), suffixed=True), base
    return None


def _outside_key(path: str, tree: Tree) -> str | None:
    """The path inside `tree`'s prefix of a file outside any language tree, extension dropped."""
    pure = PurePosixPath(path)
    if tree.suffixed:
        if str(pure.parent) != (tree.prefix or "."):
            return None
        return str(PurePosixPath(pure.name).with_suffix(""))
    prefix = tree.base + "/" if tree.base else ""
    if not path.startswith(prefix):
        return None
    return str(PurePosixPath(path[len(prefix) :]).with_suffix(""))


def _prose_text(path: str, text: str) -> str:
    if path.endswith(".po"):
        return "\n".join(a or b for a, b in _PO_STRING.findall(text))
    return text


def _sample_language(paths: Sequence[str], text_of: Callable[[str], str]) -> str:
    prose = [p for p in paths if PurePosixPath(p).suffix.lower() in _PROSE_SUFFIXES]
    step = max(1, len(prose) // _SAMPLE_FILES)
    sample = prose[::step][:_SAMPLE_FILES]
    joined = "\n\n".join(_prose_text(p, text_of(p))[:_SAMPLE_CHARS] for p in sample)
    return detect(joined)


def find_mirrors(paths: Sequence[str], text_of: Callable[[str], str]) -> Mirrors:
    """Translated trees among `paths` (repository-relative POSIX), with `text_of` for content."""
    trees: dict[Tree, TreeFacts] = defaultdict(TreeFacts)
    outside: list[str] = []
    for path in paths:
        found = _tree_of(path)
        if found is None:
            outside.append(path)
        else:
            trees[found[0]].files[path] = found[1]
    if not trees:
        return Mirrors(_main_language(outside, {}, text_of), {}, {})
    by_prefix: dict[tuple[str, bool], list[Tree]] = defaultdict(list)
    for tree in trees:
        by_prefix[tree.prefix, tree.suffixed].append(tree)
    for tree, facts in trees.items():
        keys = set(facts.files.values())
        siblings = by_prefix[tree.prefix, tree.suffixed]
        others = [set(trees[t].files.values()) for t in siblings if t != tree]
        around = {k for p in outside if (k := _outside_key(p, tree)) is not None}
        shared = max((len(keys & other) for other in [*others, around]), default=0)
        facts.mirrored = tree.localised or shared >= max(1.0, _MIN_SHARED * len(keys))
        if facts.mirrored:
            facts.language = _sample_language(sorted(facts.files), text_of)
    main = _main_language(outside, trees, text_of)
    translations: dict[str, str] = {}
    labels: dict[str, str] = {}
    originals: dict[str, str] = {}
    for tree, facts in sorted(trees.items(), key=lambda item: item[0].label):
        if not facts.mirrored or facts.language in (UNKNOWN, main):
            continue
        if language_code(tree.code) == main:
            continue  # the main language's own folder, whatever the sample said
        labels[tree.label] = tree.code
        translations.update(dict.fromkeys(facts.files, tree.code))
        source = _originals(tree, trees, by_prefix[tree.prefix, tree.suffixed], outside, main)
        originals.update({path: source[key] for path, key in facts.files.items() if key in source})
    return Mirrors(main, translations, labels, originals)


def _originals(
    tree: Tree,
    trees: dict[Tree, TreeFacts],
    siblings: Sequence[Tree],
    outside: Sequence[str],
    main: str,
) -> dict[str, str]:
    """Key inside the tree -> the main-language file with that key: in the sibling tree of
    the main language, else among the files around the tree."""
    for sibling in siblings:
        facts = trees[sibling]
        if sibling != tree and (facts.language == main or language_code(sibling.code) == main):
            return {key: path for path, key in facts.files.items()}
    return {key: p for p in outside if (key := _outside_key(p, tree)) is not None}


def _main_language(
    outside: Sequence[str], trees: dict[Tree, TreeFacts], text_of: Callable[[str], str]
) -> str:
    """The language of the prose outside language trees (the README first), else of the
    largest mirrored tree."""
    readmes = [p for p in outside if PurePosixPath(p).name.lower().startswith("readme")]
    for group in (sorted(readmes, key=lambda p: p.count("/")), list(outside)):
        language = _sample_language(group, text_of)
        if language != UNKNOWN:
            return language
    counts: Counter[str] = Counter()
    for facts in trees.values():
        if facts.mirrored and facts.language != UNKNOWN:
            counts[facts.language] += len(facts.files)
    return counts.most_common(1)[0][0] if counts else UNKNOWN
