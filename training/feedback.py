"""Training examples from users' feedback on answers, read from the object store.

Keys read: `feedback/<interaction id>/<user hash>.json` (Feedback records, one current label
per user), `corrections/<interaction id>.json` (from the Label Studio review) and
`interactions/YYYY/MM/DD/<interaction id>.json`.

How an interaction's labels resolve, in this order:
1. A correction exists: the corrected answer is trained on, whatever the votes.
2. More positive than negative current labels (retracted reactions do not count): the model's
   answer is trained on, unless it was an abstention, whose text is a canned template.
3. Otherwise, with at least one negative label (net negative or a tie): not trained on, kept
   aside in the holdout set for evaluation.
4. No current label left (all retracted): ignored.
The input holds the context the model answered from: the last turns of the conversation and
the numbered passages, within a character budget, laid out as the serving prompt lays them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.ports import ObjectStore
from core.prompting import format_passage
from core.types import Chunk, ChunkKind, FeedbackLabel, Source
from training.errors import DatasetError
from training.records import Example, normalise_block, normalise_line

FEEDBACK = "feedback"
_HISTORY_TURNS = 2
_TURN_CHARS = 400
_MIN_PASSAGE_CHARS = 200

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(slots=True)
class FeedbackSelection:
    """What the feedback contributes: examples to train on, a holdout set, and counts."""

    examples: list[Example] = field(default_factory=list)
    holdout: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def select_feedback(store: ObjectStore, *, max_context_chars: int) -> FeedbackSelection:
    """Reads feedback, corrections and their interactions and applies the rules above.

    Feedback on an interaction that is not (yet) in the store, e.g. still in a spool, is
    counted as `missing_interaction` and picked up by a later build.
    """
    votes = _read_votes(store)
    corrections = _read_corrections(store)
    wanted = set(votes) | set(corrections)
    located = _interaction_keys(store, wanted)
    selection = FeedbackSelection()
    for interaction_id in sorted(wanted):
        key = located.get(interaction_id)
        if key is None:
            _log.warning("feedback on interaction %s, which is not in the store", interaction_id)
            selection.counts["missing_interaction"] += 1
            continue
        record = _load_json(store, key)
        _select_one(
            selection,
            _Interaction.parse(record, key),
            tally=votes.get(interaction_id, Counter()),
            correction=corrections.get(interaction_id),
            max_context_chars=max_context_chars,
        )
    return selection


def _select_one(
    selection: FeedbackSelection,
    interaction: _Interaction,
    *,
    tally: Counter[FeedbackLabel],
    correction: str | None,
    max_context_chars: int,
) -> None:
    positive, negative = tally[FeedbackLabel.POSITIVE], tally[FeedbackLabel.NEGATIVE]
    counts = selection.counts
    counts["interactions"] += 1
    context = interaction.context(max_context_chars)
    if correction is not None:
        counts["corrected"] += 1
        selection.examples.append(interaction.example(correction, context))
    elif positive > negative and interaction.abstained:
        counts["abstained_positive"] += 1
    elif positive > negative:
        counts["positive"] += 1
        selection.examples.append(interaction.example(interaction.answer, context))
    elif negative:
        counts["holdout"] += 1
        selection.holdout.append(
            {
                "interaction_id": interaction.id,
                "instruction": normalise_line(interaction.question),
                "input": context,
                "rejected_output": normalise_block(interaction.answer),
                "model": interaction.model,
                "positive": positive,
                "negative": negative,
            }
        )
    else:
        counts["unlabelled"] += 1


@dataclass(frozen=True, slots=True)
class _Interaction:
    """The parts of a stored interaction that training uses, type-checked."""

    id: str
    key: str
    question: str
    answer: str
    abstained: bool
    model: str
    history: list[tuple[str, str]]
    sources: list[Source]

    @classmethod
    def parse(cls, record: Any, key: str) -> _Interaction:
        q = _get(record, "question", dict, key)
        a = _get(record, "answer", dict, key)
        question = _get(q, "text", str, key, "question.")
        answer = _get(a, "text", str, key, "answer.")
        history = [
            (_get(t, "question", str, key, "history."), _get(t, "answer", str, key, "history."))
            for t in _get(q, "history", list, key, "question.")
        ]
        return cls(
            id=_get(record, "id", str, key),
            key=key,
            question=question,
            answer=answer,
            abstained=_get(a, "abstained", bool, key, "answer."),
            model=_get(a, "model", str, key, "answer."),
            history=history,
            sources=[_source(s, key) for s in _get(a, "sources", list, key, "answer.")],
        )

    def context(self, budget: int) -> str:
        """Earlier turns, then the numbered passages, shared within `budget` characters."""
        parts: list[str] = []
        for question, answer in self.history[-_HISTORY_TURNS:]:
            parts.append(f"Earlier question: {_cut(question)}\nEarlier answer: {_cut(answer)}")
        budget -= sum(len(p) for p in parts)
        blocks: list[str] = []
        for number, source in enumerate(self.sources, start=1):
            share = max(budget // (len(self.sources) - number + 1), _MIN_PASSAGE_CHARS)
            block = format_passage(number, source, limit=share)
            budget -= len(block)
            blocks.append(block)
        if blocks:
            parts.append("Passages:\n\n" + "\n\n".join(blocks))
        return normalise_block("\n\n".join(parts))

    def example(self, output: str, context: str) -> Example:
        return Example(
            instruction=normalise_line(self.question),
            input=context,
            output=normalise_block(output),
            source=FEEDBACK,
            group=f"interaction:{self.id}",
            origin=self.key,
        )


def _cut(text: str) -> str:
    flat = normalise_line(text)
    return flat if len(flat) <= _TURN_CHARS else flat[: _TURN_CHARS - 1].rstrip() + "…"


def _source(raw: Any, key: str) -> Source:
    where = "answer.sources[]."
    path = _get(raw, "path", str, key, where)
    chunk = Chunk(
        id=str(raw.get("id") or ""),
        kb=str(raw.get("kb") or ""),
        path=path,
        title=_get(raw, "title", str, key, where),
        text=_get(raw, "text", str, key, where),
        start_line=_get(raw, "start_line", int, key, where),
        end_line=_get(raw, "end_line", int, key, where),
        language="",
        kind=ChunkKind.DOC,
    )
    return Source(chunk=chunk, score=0.0)


def _get(obj: Any, name: str, kind: type[_T], key: str, where: str = "") -> _T:
    """`obj[name]` if it is a `kind`, else DatasetError naming the object key and field."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{key}: expected an object holding {where}{name}")
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DatasetError(
            f"{key}: field '{where}{name}' should be {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _load_json(store: ObjectStore, key: str) -> Any:
    try:
        data = store.get(key)
    except KeyError:
        raise DatasetError(f"{key}: listed in the object store but not readable") from None
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{key}: not valid UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{key}:{exc.lineno}: malformed JSON: {exc.msg}") from None


def _read_votes(store: ObjectStore) -> dict[str, Counter[FeedbackLabel]]:
    """Current labels per interaction: one per user, retracted ones left out."""
    votes: dict[str, Counter[FeedbackLabel]] = {}
    for key in store.list("feedback/"):
        if not key.endswith(".json"):
            continue
        record = _load_json(store, key)
        label = record.get("label", "missing") if isinstance(record, dict) else "missing"
        interaction_id = record.get("interaction_id") if isinstance(record, dict) else None
        if not isinstance(interaction_id, str) or not interaction_id:
            raise DatasetError(f"{key}: field 'interaction_id' should be a non-empty str")
        if label is not None and label not in set(FeedbackLabel):
            raise DatasetError(f"{key}: field 'label' should be positive, negative or null")
        tally = votes.setdefault(interaction_id, Counter())
        if label is not None:
            tally[FeedbackLabel(label)] += 1
    return votes


def _read_corrections(store: ObjectStore) -> dict[str, str]:
    corrections: dict[str, str] = {}
    for key in store.list("corrections/"):
        if not key.endswith(".json"):
            continue
        record = _load_json(store, key)
        corrections[_get(record, "interaction_id", str, key)] = _get(record, "answer", str, key)
    return corrections


def _interaction_keys(store: ObjectStore, wanted: set[str]) -> dict[str, str]:
    located: dict[str, str] = {}
    for key in store.list("interactions/"):
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".json") and name[:-5] in wanted:
            located[name[:-5]] = key
    return located
