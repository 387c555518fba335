"""Slices of the shared datasets and stored interactions, feedback and corrections for tests."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.storage.local import LocalObjectStore
from core.object_keys import feedback_key, interaction_key
from core.types import (
    Answer,
    Feedback,
    FeedbackLabel,
    Interaction,
    Question,
    Source,
    Timings,
    Turn,
)
from tests.conftest import shared_data
from tests.fakes import chunk

CODEQA_LINES = 60
CONALA_RECORDS = 40


def write_lines(path: Path, lines: list[str]) -> None:
    """Line-aligned file as CodeQA ships them: no trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def codeqa_slice(root: Path) -> Path:
    """The first CODEQA_LINES examples of CodeQA dev and test, in the shared layout."""
    codeqa = shared_data("codeqa", "python")
    for split in ("dev", "test"):
        for ext in ("question", "answer", "code", "code.original"):
            source = codeqa / split / f"{split}.{ext}"
            lines = source.read_text(encoding="utf-8").split("\n")[:CODEQA_LINES]
            write_lines(root / split / f"{split}.{ext}", lines)
    return root


def conala_slice(root: Path) -> Path:
    """The first CONALA_RECORDS records of each CoNaLa file."""
    conala = shared_data("conala")
    root.mkdir(parents=True)
    for name in ("conala-train.json", "conala-test.json"):
        rows = json.loads((conala / name).read_text(encoding="utf-8"))[:CONALA_RECORDS]
        (root / name).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return root


def stored_interaction(
    store: LocalObjectStore,
    interaction_id: str,
    *,
    question: str = "How do I enable CORS?",
    answer: str = "Add CORSMiddleware with the allowed origins [1].",
    passages: tuple[str, ...] = ("Use CORSMiddleware to allow origins.",),
    abstained: bool = False,
    history: tuple[Turn, ...] = (),
) -> Interaction:
    """Writes an interaction where the interaction log puts it, and returns it."""
    sources = tuple(
        Source(chunk(f"docs/p{n}.md", text, title=f"Page {n}", lines=(n, n + 9)), score=0.8)
        for n, text in enumerate(passages, start=1)
    )
    interaction = Interaction(
        id=interaction_id,
        created_at="2026-11-20T10:00:00.000+00:00",
        question=Question(text=question, history=history, platform="slack"),
        answer=Answer(
            text=answer,
            sources=sources,
            confidence=0.9,
            abstained=abstained,
            model="abstained" if abstained else "leximind-lora",
            extractive=False,
            timings=Timings(),
            interaction_id=interaction_id,
        ),
    )
    store.put(
        interaction_key(interaction.id, interaction.created_at),
        json.dumps(interaction.to_record()).encode(),
    )
    return interaction


def stored_vote(
    store: LocalObjectStore, interaction_id: str, user: str, label: FeedbackLabel | None
) -> None:
    """Writes one user's current label on an answer (None: the reaction was removed)."""
    vote = Feedback(
        interaction_id=interaction_id,
        platform="slack",
        user_hash=user,
        emoji="+1" if label is FeedbackLabel.POSITIVE else "-1",
        label=label,
        created_at="2026-11-20T11:00:00Z",
    )
    store.put(feedback_key(interaction_id, user), json.dumps(vote.to_record()).encode())


def stored_correction(store: LocalObjectStore, interaction_id: str, answer: str) -> None:
    """Writes a Label Studio correction as the import stores it."""
    record = {
        "interaction_id": interaction_id,
        "answer": answer,
        "annotator": "maintainer@example.org",
        "created_at": "2026-11-21T09:00:00Z",
        "task_id": 7,
    }
    store.put(f"corrections/{interaction_id}.json", json.dumps(record).encode())
