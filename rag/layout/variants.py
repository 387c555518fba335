"""Example files that no page includes but that are variants of one that a page does.

Documentation often keeps several versions of each example (one per language version, with
and without a newer idiom) and includes only one of them in its page. The others are nearly
the same code: a question that matches one matches them all, and each would take a slot of
its own. A file in the same folder as an included one, whose tokens are nearly all the
same (Jaccard similarity of the token sets), belongs to the pages that include its closest
sibling. Decided from content alone, never from file names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

# How alike a file and its included sibling must be: measured on example trees where the
# variants of one example score 0.89-0.97 and different examples 0.4-0.8.
MIN_SIMILARITY = 0.85
_TIE = 0.02  # siblings this close to the best are all taken
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")
_MAX_BYTES = 100_000  # larger files are not examples


def tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(text))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def find_variants(
    candidates: Sequence[str],
    included_by: Mapping[str, Sequence[str]],
    texts: Mapping[str, str],
    *,
    min_similarity: float = MIN_SIMILARITY,
) -> dict[str, list[str]]:
    """The pages each of `candidates` belongs to as a variant of an included sibling.

    `included_by` maps included files to the pages that include them; a candidate that is
    itself included, or has no included file beside it, is left alone.
    """
    siblings: dict[PurePosixPath, list[str]] = defaultdict(list)
    for path in included_by:
        siblings[PurePosixPath(path).parent].append(path)
    cache: dict[str, frozenset[str]] = {}

    def tokens_of(path: str) -> frozenset[str]:
        if path not in cache:
            cache[path] = tokens(texts[path])
        return cache[path]

    found: dict[str, list[str]] = {}
    for path in candidates:
        beside = siblings.get(PurePosixPath(path).parent)
        if path in included_by or not beside or len(texts[path]) > _MAX_BYTES:
            continue
        mine = tokens_of(path)
        if not mine:
            continue
        scored = [(similarity(mine, tokens_of(other)), other) for other in beside]
        best = max(score for score, _ in scored)
        if best < min_similarity:
            continue
        hosts = {
            page for score, other in scored if score >= best - _TIE for page in included_by[other]
        }
        found[path] = sorted(hosts)
    return found
