"""Cleaning drops and counts bad records and duplicates; the split never leaks a group or pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.dataset import SourceCounts, clean, split, verify_no_leakage
from training.errors import DatasetError
from training.records import Example, normalise_block, normalise_line, pair_key
from training.sources import read_codeqa, read_conala


def ex(
    instruction: str,
    output: str = "out",
    *,
    input_text: str = "",
    source: str = "conala",
    group: str | None = None,
) -> Example:
    return Example(
        instruction=instruction,
        input=input_text,
        output=output,
        source=source,
        group=group or f"g:{instruction}",
        origin=f"{source}:{instruction[:10]}",
    )


def test_whitespace_normalisation() -> None:
    """Prose collapses to one line; code keeps indentation but loses CRLF and trailing space."""
    assert normalise_line("  How\tdo I\n\u00a0run   it ?  ") == "How do I run it ?"
    code = "\r\n\r\nif x:  \r\n    pass\r\n\r\n\r\n\r\nreturn\u00a0y\n\n"
    assert normalise_block(code) == "if x:\n    pass\n\nreturn y"


def test_empty_and_overlong_records_are_dropped_and_counted() -> None:
    """Each drop is counted by reason and by source; nothing else disappears."""
    counts: dict[str, SourceCounts] = {}
    kept = clean(
        [ex("ok"), ex("", "x"), ex("no output", ""), ex("long", "y" * 100), ex("fine", "z")],
        max_chars=50,
        counts=counts,
    )

    assert [e.instruction for e in kept] == ["ok", "fine"]
    tally = counts["conala"]
    assert tally.read == 5
    assert dict(tally.dropped) == {"empty_instruction": 1, "empty_output": 1, "too_long": 1}


def test_duplicates_across_sources_keep_the_first() -> None:
    """The same record from two sources, differing only in case and spacing, is kept once."""
    counts: dict[str, SourceCounts] = {}
    first = ex("Sort a list `l`", "sorted(l)", source="conala")
    again = ex("sort  a list `L`", "sorted(l)", source="feedback", group="interaction:1")
    different_answer = ex("Sort a list `l`", "l.sort()", source="conala", group="g:other")

    kept = clean([first, again, different_answer], max_chars=1000, counts=counts)

    assert kept == [first, different_answer]
    assert counts["feedback"].duplicates == 1 and counts["conala"].duplicates == 0


def test_same_group_always_lands_on_one_side() -> None:
    """Twenty questions on one code snippet (or one CoNaLa question id) stay together."""
    snippet = [ex(f"q{n}", input_text="def f(): pass", group="codeqa:f") for n in range(20)]
    others = [ex(f"other {n}") for n in range(80)]
    result = split(snippet + others, test_ratio=0.2, seed=3, counts={})

    sides = {("test" if e in result.test else "train") for e in snippet}
    assert len(sides) == 1
    assert len(result.train) + len(result.test) == 100


def test_same_instruction_and_input_in_different_groups_is_not_split() -> None:
    """Records that share (instruction, input) but not a group are joined before splitting."""
    pairs = [ex("Map keys and values", f"answer {n}", group=f"conala:{n}") for n in range(5)]
    others = [ex(f"other {n}") for n in range(45)]
    for seed in range(10):
        result = split(pairs + others, test_ratio=0.2, seed=seed, counts={})
        assert sum(e in result.test for e in pairs) in (0, 5)


def test_split_is_deterministic_and_near_ratio(codeqa_dir: Path, conala_dir: Path) -> None:
    """The same seed gives the same split; each source gets about 20% test."""
    examples = [*read_codeqa(codeqa_dir), *read_conala(conala_dir)]
    counts_a: dict[str, SourceCounts] = {}
    a = split(clean(examples, max_chars=8000, counts=counts_a), test_ratio=0.2, seed=7, counts={})
    b = split(clean(examples, max_chars=8000, counts={}), test_ratio=0.2, seed=7, counts={})
    c = split(clean(examples, max_chars=8000, counts={}), test_ratio=0.2, seed=8, counts={})

    assert (a.train, a.test) == (b.train, b.test)
    assert a.test != c.test
    for source in ("codeqa", "conala"):
        test = sum(e.source == source for e in a.test)
        total = test + sum(e.source == source for e in a.train)
        assert 0.15 <= test / total <= 0.3
    groups_train = {e.group for e in a.train}
    assert not any(e.group in groups_train for e in a.test)


def test_leakage_check_fails_loudly() -> None:
    """A test pair present in train, or a group on both sides, raises with both origins."""
    train = [ex("Open a file", "open(p)", group="conala:1")]
    with pytest.raises(DatasetError, match=r"leakage: test example .* instruction and input"):
        verify_no_leakage(train, [ex("open a  FILE", "other", group="conala:2")])
    with pytest.raises(DatasetError, match="leakage: group conala:1"):
        verify_no_leakage(train, [ex("Close a file", group="conala:1")])
    verify_no_leakage(train, [ex("Close a file", group="conala:3")])


def test_pair_key_ignores_case_and_spacing_only() -> None:
    """Keys match across spacing and case, and differ when the input differs."""
    assert pair_key("Sort a List", "x  = 1") == pair_key("sort a list", "x = 1")
    assert pair_key("Sort a list", "x = 1") != pair_key("Sort a list", "x = 2")
