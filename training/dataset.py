"""Cleaning, deduplication and the leakage-free train/test split of Examples.

Pure functions over lists: no I/O. The split is by connected groups: two examples belong
together when they share an origin group (a CoNaLa question id, a CodeQA snippet, an
interaction) or the same (instruction, input) up to case and whitespace, so neither a group
nor an instruction/input pair can end up on both sides.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from training.errors import DatasetError
from training.records import Example, pair_key, record_key

EMPTY_INSTRUCTION = "empty_instruction"
EMPTY_OUTPUT = "empty_output"
TOO_LONG = "too_long"


@dataclass(slots=True)
class SourceCounts:
    """What happened to one source's examples."""

    read: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    train: int = 0
    test: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "dropped": dict(sorted(self.dropped.items())),
            "duplicates": self.duplicates,
            "train": self.train,
            "test": self.test,
        }


@dataclass(slots=True)
class Split:
    """The result of cleaning and splitting: both sides, shuffled, and the counts."""

    train: list[Example]
    test: list[Example]
    counts: dict[str, SourceCounts]
    groups_train: int = 0
    groups_test: int = 0


def drop_reason(example: Example, *, max_chars: int) -> str | None:
    """Why an example is unusable, or None: no instruction, no output, or too long."""
    if not example.instruction:
        return EMPTY_INSTRUCTION
    if not example.output:
        return EMPTY_OUTPUT
    if example.chars > max_chars:
        return TOO_LONG
    return None


def clean(
    examples: Iterable[Example], *, max_chars: int, counts: dict[str, SourceCounts]
) -> list[Example]:
    """Examples that are usable and not duplicates of an earlier one, in input order.

    Fills `counts` per source: read, dropped by reason, duplicates (the later copy is the
    one counted, so reading order decides which source keeps a shared record).
    """
    seen: set[str] = set()
    kept: list[Example] = []
    for example in examples:
        tally = counts.setdefault(example.source, SourceCounts())
        tally.read += 1
        reason = drop_reason(example, max_chars=max_chars)
        if reason:
            tally.dropped[reason] += 1
            continue
        key = record_key(example)
        if key in seen:
            tally.duplicates += 1
            continue
        seen.add(key)
        kept.append(example)
    return kept


def connected_groups(examples: list[Example]) -> list[list[int]]:
    """Indices of `examples` joined by shared group or shared (instruction, input), in order
    of each component's first example."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    for example in examples:
        a, b = find("g:" + example.group), find("p:" + pair_key(example.instruction, example.input))
        if a != b:
            parent[b] = a
    components: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        components[find("g:" + example.group)].append(index)
    return list(components.values())


def split(
    examples: list[Example],
    *,
    test_ratio: float,
    seed: int,
    counts: dict[str, SourceCounts],
) -> Split:
    """Shuffles components with `seed` and fills the test side per source up to `test_ratio`.

    Each component counts for the source of its first example, so every source is split
    about `test_ratio`; the last component taken may overshoot by its size. Both sides are
    then shuffled and checked for leakage.
    """
    rng = random.Random(seed)
    by_source: dict[str, list[list[int]]] = defaultdict(list)
    for component in connected_groups(examples):
        by_source[examples[component[0]].source].append(component)
    train: list[Example] = []
    test: list[Example] = []
    groups = Counter[str]()
    for source in sorted(by_source):
        components = by_source[source]
        rng.shuffle(components)
        target = round(test_ratio * sum(len(c) for c in components))
        taken = 0
        for component in components:
            side = "test" if taken < target else "train"
            taken += len(component) if side == "test" else 0
            groups[side] += 1
            (test if side == "test" else train).extend(examples[i] for i in component)
    rng.shuffle(train)
    rng.shuffle(test)
    for example in train:
        counts.setdefault(example.source, SourceCounts()).train += 1
    for example in test:
        counts.setdefault(example.source, SourceCounts()).test += 1
    verify_no_leakage(train, test)
    return Split(train, test, counts, groups_train=groups["train"], groups_test=groups["test"])


def verify_no_leakage(train: list[Example], test: list[Example]) -> None:
    """Raises DatasetError if a test (instruction, input) pair or origin group is in train."""
    train_pairs = {pair_key(e.instruction, e.input): e for e in train}
    train_groups = {e.group: e for e in train}
    for example in test:
        twin = train_pairs.get(pair_key(example.instruction, example.input))
        if twin is not None:
            raise DatasetError(
                f"leakage: test example {example.origin} has the instruction and input of "
                f"train example {twin.origin}"
            )
        twin = train_groups.get(example.group)
        if twin is not None:
            raise DatasetError(
                f"leakage: group {example.group} is in test ({example.origin}) and in "
                f"train ({twin.origin})"
            )
