"""The grounding benchmark's faithfulness labels: filed under the answer's text, counted per
threshold beside the retrieval label, every unlabelled answer put on the sheet, and kept
answers checked again by this checkout's check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.grounding import (
    answer_key,
    checked,
    curves,
    faithfulness_labels,
    fallback_sheet,
    fallback_text,
    label_sheet,
    usefulness_labels,
)
from tests.support.small_model import SERVED_NAME


def row(text: str, support: float, supported: bool) -> dict[str, Any]:
    return {
        "kb": "k",
        "question": f"q {text}",
        "model": SERVED_NAME,
        "text": text,
        "support": support,
        "relevance": 1.0,
        "sentences": 2,
        "best_passage": 0.6,
        "retrieved": True,
        "supported": supported,
        "invented": 0,
        "repetitive": False,
        "key": answer_key(text),
        "passages": [{"path": "docs/a.md", "text": f"passage for {text}"}],
    }


def test_labels_are_filed_under_the_answer_text(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    lines = [
        {"key": answer_key("one"), "faithful": True, "note": ""},
        {"key": answer_key("two"), "faithful": False, "note": "invents an option"},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert faithfulness_labels(path) == {answer_key("one"): True, answer_key("two"): False}
    assert answer_key("one") != answer_key("one ")
    assert faithfulness_labels(tmp_path / "none.jsonl") == {}


def test_each_threshold_counts_labelled_faithful_and_unfaithful_answers_sent() -> None:
    rows = [row("a", 0.7, True), row("b", 0.5, True), row("c", 0.3, False), row("d", 0.1, False)]
    labels = {answer_key("a"): True, answer_key("b"): False, answer_key("c"): True}
    report = curves(rows, labels)
    by = {p["threshold"]: p for p in report["min_support"]}
    assert (report["labelled"], report["faithful"]) == (3, 2)
    assert (by[0.0]["faithful_sent"], by[0.0]["unfaithful_sent"]) == (2, 1)  # d has no label
    assert (by[0.4]["faithful_sent"], by[0.4]["unfaithful_sent"]) == (1, 1)
    assert (by[0.6]["faithful_sent"], by[0.6]["unfaithful_sent"]) == (1, 0)
    assert (by[0.6]["supported_sent"], by[0.6]["unsupported_sent"]) == (1, 0)


def test_the_sheet_lists_only_unlabelled_answers_with_their_passages(tmp_path: Path) -> None:
    rows = [row("labelled answer", 0.7, True), row("open answer", 0.2, False)]
    sheet = tmp_path / "sheet.md"
    count = label_sheet(rows, {answer_key("labelled answer"): True}, sheet)
    text = sheet.read_text()
    assert count == 1
    assert answer_key("open answer") in text and "passage for open answer" in text
    assert answer_key("labelled answer") not in text


def test_kept_answers_are_checked_again_with_their_passage_headers() -> None:
    def embed(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]

    kept = row("x", 0.0, False)
    kept["reference"] = "docs/a.md"
    kept["passages"] = [
        {"path": "docs/a.md", "title": "A", "start_line": 3, "end_line": 9, "text": "Run pytest."}
    ]
    kept["text"] = "[1] docs/a.md — A (lines 3-9)\nRun the tests with pytest [1]."
    again = checked(kept, embed)
    assert again["invented"] == 0 and again["supported"] and again["support"] > 0.5
    kept["text"] = "[2] docs/b.md — B (lines 1-4)\nRun the tests with pytest [1]."
    assert checked(kept, embed)["invented"] == 1


def test_the_fallback_is_the_quoted_answer_over_the_same_passages(tmp_path: Path) -> None:
    """A failed answer's fallback quotes its passages; it is judged for usefulness once per
    text, and each evidence threshold counts the useful and useless quotes it withholds."""
    kept = row("x", 0.0, False)
    kept["question"] = "How do I run the tests?"
    kept["passages"] = [
        {"path": "src/app.py", "title": "main", "text": "def main():\n    return 1\n"},
        {"path": "docs/dev.md", "title": "Dev", "text": "Run the tests with make test."},
    ]
    text = fallback_text(kept)
    assert "Run the tests with make test. [2]" in text and "quoted, not generated" in text
    low = {**kept, "best_passage": 0.4, "fallback_key": answer_key(text)}
    high = {**kept, "best_passage": 0.7, "fallback_key": answer_key("other")}
    sheet = tmp_path / "fallbacks.md"
    assert fallback_sheet([low, low, high], {answer_key("other"): False}, sheet) == 1
    assert "make test" in sheet.read_text() and "help the asker" in sheet.read_text()
    labels = tmp_path / "useful.jsonl"
    labels.write_text(json.dumps({"key": answer_key(text), "useful": True, "note": ""}) + "\n")
    useful = usefulness_labels(labels) | {answer_key("other"): False}
    report = curves([low, high], {}, useful)
    by = {p["threshold"]: p for p in report["min_evidence"]}
    assert (report["fallbacks_labelled"], report["fallbacks_useful"]) == (2, 1)
    assert (by[0.5]["declined_useful"], by[0.5]["declined_not_useful"]) == (1, 0)
    assert (by[0.75]["declined_useful"], by[0.75]["declined_not_useful"]) == (1, 1)
