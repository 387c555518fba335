"""Neutral domain types shared by every part of Leximind."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.memory import MemoryHit


class ChunkKind(StrEnum):
    """Whether a chunk came from prose documentation, from source code, or is an endorsed
    answer of the answer memory (core.memory), which a re-index of the files never touches."""

    DOC = "doc"
    CODE = "code"
    MEMORY = "memory"


class FileRole(StrEnum):
    """What a file is for in its repository, as its maintainers laid it out.

    Derived while indexing (rag.layout) and stored with each chunk; ranking weighs it by
    what a question asks. UNKNOWN is a chunk stored before roles existed.
    """

    DOCS = "docs"
    EXAMPLE = "example"
    SOURCE = "source"
    TEST = "test"
    CHANGELOG = "changelog"
    BUILD = "build"
    TOOLING = "tooling"
    TRANSLATION = "translation"
    UNKNOWN = ""

    @classmethod
    def parse(cls, value: object) -> FileRole:
        """The role stored as `value`; UNKNOWN for a missing or unrecognised one."""
        try:
            return cls(str(value or ""))
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Chunk:
    """One indexed passage of a repository file.

    `id` is derived from the content and location, so re-indexing an unchanged file yields
    the same ids; lines are 1-based and inclusive.
    """

    id: str
    kb: str
    path: str
    title: str
    text: str
    start_line: int
    end_line: int
    language: str
    kind: ChunkKind
    commit: str = ""
    role: FileRole = FileRole.UNKNOWN


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved passage as cited in an answer: a chunk plus its score and browsable URL."""

    chunk: Chunk
    score: float
    url: str | None = None

    @property
    def path(self) -> str:
        return self.chunk.path

    @property
    def title(self) -> str:
        return self.chunk.title

    def snippet(self, limit: int = 300) -> str:
        """The start of the passage, cut at `limit` characters. Lines keep their breaks and
        indentation (code stays readable); blank runs become one blank line."""
        lines = [line.rstrip() for line in self.chunk.text.strip("\n").splitlines()]
        kept = [line for n, line in enumerate(lines) if line or (n and lines[n - 1])]
        text = "\n".join(kept).strip()
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier question and the answer it got, in the same conversation."""

    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Question:
    """A question as any platform hands it to the core.

    `kb` of None means the default knowledge base; `platform_refs` carries ids the platform
    needs to find the conversation again (channel, thread, issue) and is stored, not interpreted.
    """

    text: str
    kb: str | None = None
    history: tuple[Turn, ...] = ()
    platform: str = "api"
    platform_refs: dict[str, str] = field(default_factory=dict)
    user_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds spent in each stage of answering."""

    retrieval: float = 0.0
    generation: float = 0.0
    total: float = 0.0


@dataclass(frozen=True, slots=True)
class Grounding:
    """How a generated answer fared against the passages it cites (core.grounding).

    `model` wrote the checked text; `support` is its score in 0..1 and `threshold` the score
    it had to reach. `fallback` is None when the text was sent (with invalid citations
    removed and missing ones added), else what was sent instead, "extractive" or
    "abstained", and `reason` says why in words; `cause` names why in one word for metrics
    ("low_support", "no_sentence", "off_topic", "invented_source" or "repetitive").
    `relevance` is the answer's relevance to the question relative to the best passage's
    (None when it was not measured).
    """

    model: str
    support: float
    threshold: float
    sentences: int
    unsupported: int
    removed_citations: int
    attributed_citations: int
    fallback: str | None = None
    reason: str = ""
    cause: str = ""
    relevance: float | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "support": self.support,
            "threshold": self.threshold,
            "sentences": self.sentences,
            "unsupported": self.unsupported,
            "removed_citations": self.removed_citations,
            "attributed_citations": self.attributed_citations,
            "fallback": self.fallback,
            "reason": self.reason,
            "cause": self.cause,
            "relevance": self.relevance,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """What the core returns for a question.

    `extractive` is true when the text was assembled from the passages rather than generated;
    `abstained` when the evidence was too weak to answer and the text says so. `routed_model`
    is the model the question was routed to (a staged rollout's champion or challenger); it
    differs from `model`, the model that wrote the text, when the answer abstained or the
    model failed and the answer is extractive. `grounding` is the check of a generated text
    against its sources (None when nothing was generated), and says why it was not sent.
    `memory` is the endorsed answer to a similar question that leads the text, when the
    answer memory had a close match.
    """

    text: str
    sources: tuple[Source, ...]
    confidence: float
    abstained: bool
    model: str
    extractive: bool
    timings: Timings
    interaction_id: str = ""
    routed_model: str = ""
    grounding: Grounding | None = None
    memory: MemoryHit | None = None


@dataclass(frozen=True, slots=True)
class SourcesFound:
    """First event of a streamed answer: the passages it will cite, before any text.

    `abstaining` says the evidence is too weak, so the text that follows is a decline.
    """

    sources: tuple[Source, ...]
    confidence: float
    abstaining: bool


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of a streamed answer's text (an extractive answer comes as one)."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerDone:
    """Last event of a streamed answer: the answer as recorded.

    `replaced` is true when the model failed after some text was sent and the answer is the
    extractive one instead: the text streamed so far must be replaced by `answer.text`.
    """

    answer: Answer
    replaced: bool = False


AnswerEvent = SourcesFound | TextDelta | AnswerDone


@dataclass(frozen=True, slots=True)
class Interaction:
    """The durable record of one question and its answer."""

    id: str
    created_at: str
    question: Question
    answer: Answer

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the interaction."""
        q, a = self.question, self.answer
        return {
            "id": self.id,
            "created_at": self.created_at,
            "question": {
                "text": q.text,
                "kb": q.kb,
                "history": [{"question": t.question, "answer": t.answer} for t in q.history],
                "platform": q.platform,
                "platform_refs": dict(q.platform_refs),
                "user_hash": q.user_hash,
            },
            "answer": {
                "text": a.text,
                "confidence": a.confidence,
                "abstained": a.abstained,
                "model": a.model,
                "routed_model": a.routed_model or a.model,
                "extractive": a.extractive,
                "grounding": a.grounding.to_record() if a.grounding else None,
                "timings": {
                    "retrieval": a.timings.retrieval,
                    "generation": a.timings.generation,
                    "total": a.timings.total,
                },
                "memory": a.memory.to_record() if a.memory else None,
                "sources": [
                    {
                        "id": s.chunk.id,
                        "kb": s.chunk.kb,
                        "path": s.chunk.path,
                        "title": s.chunk.title,
                        "start_line": s.chunk.start_line,
                        "end_line": s.chunk.end_line,
                        "commit": s.chunk.commit,
                        "url": s.url,
                        "score": s.score,
                        "text": s.chunk.text,
                    }
                    for s in a.sources
                ],
            },
        }


class FeedbackLabel(StrEnum):
    """What a user's reaction says about an answer."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One user's verdict on one answer, from an emoji reaction.

    A user has at most one label per answer: the latest event wins, and `label` None records
    that the reaction was removed (the earlier label is retracted). `user_hash` is a keyed hash
    of the platform user id, never the id itself; `created_at` is an ISO-8601 UTC time.
    """

    interaction_id: str
    platform: str
    user_hash: str
    emoji: str
    label: FeedbackLabel | None
    created_at: str

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the feedback."""
        return {
            "interaction_id": self.interaction_id,
            "platform": self.platform,
            "user_hash": self.user_hash,
            "emoji": self.emoji,
            "label": self.label.value if self.label else None,
            "created_at": self.created_at,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Feedback:
        label = record.get("label")
        return cls(
            interaction_id=str(record["interaction_id"]),
            platform=str(record["platform"]),
            user_hash=str(record["user_hash"]),
            emoji=str(record["emoji"]),
            label=FeedbackLabel(label) if label else None,
            created_at=str(record["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat-completion prompt."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A chat model's reply and the model that produced it."""

    text: str
    model: str
