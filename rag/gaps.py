"""What the docs miss: questions that failed, grouped into gaps and ranked.

A question failed when its answer was declined, disliked (more negative than positive current
labels) or corrected by a maintainer. Failed questions that ask the same thing are grouped by
average-linkage clustering over `similarity` (dense cosine plus shared content words); a gap
is one group, ranked by how many questions and distinct users it holds. Each gap names a
representative question, the closest pages the index has for it, why those pages failed, and
where a section would belong. No I/O: ops.gaps_cli reads the logs and searches the index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from core.memory import terms

Matrix = npt.NDArray[np.float64]

CLUSTER_THRESHOLD = 0.6
"""The average similarity at which two groups of questions merge: the best adjusted Rand index
on CoNaLa's train-split rewrites of the same question (`python -m benchmarks.memory`)."""


class FailureReason(StrEnum):
    """Why a question went unanswered, from the weakest evidence to the strongest."""

    NOTHING_RELEVANT = "nothing relevant"
    TOO_WEAK = "too weak"
    DISLIKED = "disliked"
    CORRECTED = "corrected"


@dataclass(frozen=True, slots=True)
class SimilarityWeights:
    """How question similarity adds up: dense cosine and the Dice overlap of content words."""

    dense: float = 0.5
    terms: float = 0.5


@dataclass(frozen=True, slots=True)
class FailedQuestion:
    """One question whose answer failed, as the logs recorded it.

    `user` is the asker's keyed hash (None when the surface gave none); `best_score` is the
    best passage's similarity when it was answered.
    """

    interaction_id: str
    kb: str
    question: str
    asked_at: str
    platform: str
    user: str | None
    reason: FailureReason
    best_score: float


def failure_reason(
    *,
    abstained: bool,
    best_score: float,
    min_relevance: float,
    positive: int,
    negative: int,
    corrected: bool,
) -> FailureReason | None:
    """Why an answer failed, or None when nothing says it did.

    A correction says most (a maintainer wrote the answer the docs could not give); then a
    decline, split by whether any passage was relevant at all; then a net-negative reaction.
    """
    if corrected:
        return FailureReason.CORRECTED
    if abstained:
        return (
            FailureReason.TOO_WEAK
            if best_score >= min_relevance
            else FailureReason.NOTHING_RELEVANT
        )
    if negative > positive:
        return FailureReason.DISLIKED
    return None


@dataclass(frozen=True, slots=True)
class PageMatch:
    """A page of the index close to a gap: its path, the section found, and how close."""

    path: str
    section: str
    score: float


@dataclass(frozen=True, slots=True)
class Gap:
    """Failed questions asking the same thing, and what the docs have closest to them."""

    kb: str
    representative: str
    questions: tuple[FailedQuestion, ...]
    pages: tuple[PageMatch, ...] = ()
    belongs: str = ""

    @property
    def users(self) -> int:
        """Distinct askers; a question without a user hash counts as its own asker."""
        known = {q.user for q in self.questions if q.user}
        return len(known) + sum(1 for q in self.questions if not q.user)

    @property
    def reasons(self) -> dict[str, int]:
        counts = Counter(q.reason.value for q in self.questions)
        return dict(counts.most_common())

    @property
    def reason(self) -> FailureReason:
        """The reason most of its questions failed; the strongest one on a tie."""
        counts = Counter(q.reason for q in self.questions)
        order = list(FailureReason)
        return max(counts, key=lambda r: (counts[r], order.index(r)))

    @property
    def last_asked(self) -> str:
        return max(q.asked_at for q in self.questions)

    def to_record(self) -> dict[str, Any]:
        return {
            "kb": self.kb,
            "representative": self.representative,
            "questions": len(self.questions),
            "users": self.users,
            "reason": self.reason.value,
            "reasons": self.reasons,
            "last_asked": self.last_asked,
            "pages": [{"path": p.path, "section": p.section, "score": p.score} for p in self.pages],
            "belongs": self.belongs,
            "asked": [
                {
                    "interaction_id": q.interaction_id,
                    "question": q.question,
                    "asked_at": q.asked_at,
                    "platform": q.platform,
                    "reason": q.reason.value,
                }
                for q in self.questions
            ],
        }


@dataclass(frozen=True, slots=True)
class GapReport:
    """The gaps of one period, most asked first, over one knowledge base or all."""

    since: str
    until: str
    kb: str | None
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    @property
    def questions(self) -> int:
        return sum(len(g.questions) for g in self.gaps)

    def for_kb(self, kb: str) -> GapReport:
        return replace(self, kb=kb, gaps=tuple(g for g in self.gaps if g.kb == kb))

    def to_record(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "kb": self.kb,
            "questions": self.questions,
            "gaps": [g.to_record() for g in self.gaps],
        }


# Clustering -----------------------------------------------------------------------------


def similarity(
    texts: Sequence[str], vectors: npt.ArrayLike, weights: SimilarityWeights | None = None
) -> Matrix:
    """Pairwise similarity of questions: dense * cosine + terms * Dice(content words).

    `vectors` are unit-length embeddings, one row per text.
    """
    w = weights or SimilarityWeights()
    rows = np.asarray(vectors, dtype=np.float64)
    dense = rows @ rows.T
    words = [terms(t) for t in texts]
    vocabulary = {word: n for n, word in enumerate(sorted(set().union(*words)))}
    counts = np.zeros((len(texts), max(len(vocabulary), 1)))
    for row, found in enumerate(words):
        counts[row, [vocabulary[word] for word in found]] = 1.0
    shared = counts @ counts.T
    sizes = counts.sum(axis=1)
    total = sizes[:, None] + sizes[None, :]
    dice = np.divide(2 * shared, total, out=np.zeros_like(shared), where=total > 0)
    result: Matrix = w.dense * dense + w.terms * dice
    return result


def cluster(matrix: npt.ArrayLike, *, threshold: float = CLUSTER_THRESHOLD) -> list[list[int]]:
    """Average-linkage groups of a similarity matrix: two groups merge while the mean
    similarity between their members is at least `threshold`. Largest group first; members
    in their original order."""
    sim = np.array(matrix, dtype=np.float64)
    n = len(sim)
    if n == 0:
        return []
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    while n > 1:
        i, j = divmod(int(np.argmax(sim)), n)
        if sim[i, j] < threshold:
            break
        merged = (sim[i] * sizes[i] + sim[j] * sizes[j]) / (sizes[i] + sizes[j])
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        sizes[i] += sizes[j]
        members[i] += members[j]
        members[j] = []
    groups = [sorted(m) for m in members if m]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def representative(group: Sequence[int], matrix: npt.ArrayLike) -> int:
    """The member most similar on average to the others (the first one on a tie)."""
    sim = np.asarray(matrix, dtype=np.float64)
    if len(group) == 1:
        return group[0]
    block = sim[np.ix_(group, group)]
    mean = (block.sum(axis=1) - np.diag(block)) / (len(group) - 1)
    return group[int(np.argmax(mean))]


def find_gaps(
    failed: Sequence[FailedQuestion],
    vectors: npt.ArrayLike,
    *,
    threshold: float = CLUSTER_THRESHOLD,
    weights: SimilarityWeights | None = None,
) -> list[Gap]:
    """The gaps of `failed` (one embedding row each), grouped within each knowledge base
    and ranked by questions, then distinct users, then the latest question."""
    rows = np.asarray(vectors, dtype=np.float64)
    gaps = []
    for kb in sorted({q.kb for q in failed}):
        index = [n for n, q in enumerate(failed) if q.kb == kb]
        texts = [failed[n].question for n in index]
        sim = similarity(texts, rows[index], weights)
        for group in cluster(sim, threshold=threshold):
            asked = tuple(failed[index[m]] for m in group)
            gaps.append(
                Gap(kb=kb, representative=texts[representative(group, sim)], questions=asked)
            )
    return rank(gaps)


def rank(gaps: Sequence[Gap]) -> list[Gap]:
    """Most questions first, then most distinct users, then the most recently asked."""
    by_recency = sorted(gaps, key=lambda g: g.last_asked, reverse=True)
    return sorted(by_recency, key=lambda g: (len(g.questions), g.users), reverse=True)


def where_it_belongs(pages: Sequence[PageMatch], *, min_relevance: float) -> str:
    """Where a section answering the gap would go, from the closest page of the docs.

    A page that is relevant but failed is where the answer belongs, next to its closest
    section; a page that is not relevant only says which folder the topic lives in.
    """
    if not pages:
        return "a new page: no page of the docs is close"
    best = max(pages, key=lambda p: p.score)
    if best.score >= min_relevance:
        after = f', next to "{best.section}"' if best.section and best.section != best.path else ""
        return f"a section in {best.path}{after}"
    folder, _, _ = best.path.rpartition("/")
    return f"a new page in {folder}/" if folder else "a new page at the top of the docs"


def with_pages(gap: Gap, pages: Sequence[PageMatch], *, min_relevance: float) -> Gap:
    """The gap with its closest pages and where its section would belong."""
    return replace(
        gap, pages=tuple(pages), belongs=where_it_belongs(pages, min_relevance=min_relevance)
    )


# The GitHub issue -----------------------------------------------------------------------

ISSUE_LABEL = "documentation-gaps"
ISSUE_GAPS = 20
_QUESTION_CHARS = 300
_PHRASINGS = 5
_MARKDOWN_PUNCTUATION = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()#+-.!|<>~"})


def issue_marker(kb: str) -> str:
    """The hidden line that finds a knowledge base's issue again on the next run."""
    return f"<!-- leximind:gaps kb={kb} -->"


def issue_title(report: GapReport) -> str:
    n = report.questions
    where = f" ({report.kb})" if report.kb else ""
    asked = f"{n} question" if n == 1 else f"{n} questions"
    return f"Documentation gaps: {asked} newcomers could not get answered{where}"


def plain_markdown(text: str) -> str:
    """User text as inert Markdown: one line, punctuation escaped, no @mention pings."""
    line = " ".join(text.split())
    if len(line) > _QUESTION_CHARS:
        line = line[: _QUESTION_CHARS - 1].rstrip() + "…"
    return line.translate(_MARKDOWN_PUNCTUATION).replace("@", "@\u200b")


def issue_body(report: GapReport) -> str:
    """The issue's Markdown: each gap with its questions, reasons, pages and place."""
    lines = [
        f"Questions asked from {report.since} to {report.until} that the docs of "
        f"`{report.kb}` could not answer: declined, disliked or corrected by a maintainer. "
        f"{len(report.gaps)} gaps, most asked first.",
    ]
    for number, gap in enumerate(report.gaps[:ISSUE_GAPS], start=1):
        reasons = ", ".join(f"{why} {n}" for why, n in gap.reasons.items())
        lines += ["", f"### {number}. {plain_markdown(gap.representative)}", ""]
        lines.append(f"{len(gap.questions)} questions from {gap.users} users ({reasons}).")
        if gap.pages:
            found = "; ".join(
                f"`{p.path}` ({plain_markdown(p.section)}, {p.score:.2f})" for p in gap.pages
            )
            lines.append(f"Closest pages: {found}.")
        lines.append(f"Where it belongs: {plain_markdown(gap.belongs)}.")
        others = [q.question for q in gap.questions if q.question != gap.representative]
        if others:
            lines += ["", "Also asked as:"]
            lines += [f"- {plain_markdown(q)}" for q in others[:_PHRASINGS]]
    if len(report.gaps) > ISSUE_GAPS:
        lines += ["", f"{len(report.gaps) - ISSUE_GAPS} smaller gaps: see `leximind gaps`."]
    lines += ["", f"Updated by `leximind gaps --open-issue` on {report.until}."]
    lines.append(issue_marker(report.kb or ""))
    return "\n".join(lines)
