"""The answer memory: endorsed answers, how a question is matched to one, and how it leads.

An entry is an answer someone vouched for: a maintainer's correction, an answer that enough
distinct users reacted to positively (and more positively than negatively), or a maintainer's
accepted reply on a closed GitHub issue. A question matches an entry by `match_score`, which
combines the dense similarity of question and entry with lexical evidence; a match at or
above the calibrated threshold leads the answer (`lead`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from core.types import Feedback, FeedbackLabel

MEMORY_PATH_PREFIX = "memory://"
"""Chunk paths of memory entries; a relative file path never holds `//`, so an indexed
file can never be mistaken for an entry."""

_ANSWER_CUT = 1200


class MemorySource(StrEnum):
    """Who vouched for an entry."""

    CORRECTION = "correction"
    REACTIONS = "reactions"
    GITHUB = "github"


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    """One endorsed answer: the question, the answer, who endorsed it, when, and where.

    `endorsed_by` holds maintainers' logins (corrections, GitHub) or users' keyed hashes
    (reactions), never a raw chat user id; `endorsed_at` is ISO-8601 UTC; `platform` is the
    surface the question was asked on and `link` its thread, when it has a web address.
    """

    id: str
    kb: str
    question: str
    answer: str
    source: MemorySource
    endorsed_by: tuple[str, ...]
    endorsed_at: str
    link: str | None = None
    platform: str = "api"
    origin: str = ""

    @property
    def search_text(self) -> str:
        """What is embedded and matched: the question and its answer."""
        return f"{self.question}\n{self.answer}"

    @property
    def chunk_id(self) -> str:
        return entry_chunk_id(self.id)

    @property
    def path(self) -> str:
        return memory_path(self.id)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kb": self.kb,
            "question": self.question,
            "answer": self.answer,
            "source": self.source.value,
            "endorsed_by": list(self.endorsed_by),
            "endorsed_at": self.endorsed_at,
            "link": self.link,
            "platform": self.platform,
            "origin": self.origin,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MemoryEntry:
        """The entry of a stored record; KeyError, ValueError or TypeError when malformed."""
        endorsed = record["endorsed_by"]
        if not isinstance(endorsed, list):
            raise TypeError("endorsed_by must be a list")
        return cls(
            id=str(record["id"]),
            kb=str(record["kb"]),
            question=str(record["question"]),
            answer=str(record["answer"]),
            source=MemorySource(record["source"]),
            endorsed_by=tuple(str(e) for e in endorsed),
            endorsed_at=str(record["endorsed_at"]),
            link=str(record["link"]) if record.get("link") else None,
            platform=str(record.get("platform") or "api"),
            origin=str(record.get("origin") or ""),
        )


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """An entry matched to a question, with its match score (see `match_score`).

    `asked_before` is the entry's thread when the question it answered was asked on
    another surface than this one (a GitHub issue for a Slack question, say).
    """

    entry: MemoryEntry
    score: float
    asked_before: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"score": self.score, "asked_before": self.asked_before, **self.entry.to_record()}


def entry_chunk_id(entry_id: str) -> str:
    """The id of the chunk that indexes an entry."""
    return f"memory-{entry_id}"


def memory_path(entry_id: str) -> str:
    return f"{MEMORY_PATH_PREFIX}{entry_id}"


def is_memory_path(path: str) -> bool:
    return path.startswith(MEMORY_PATH_PREFIX)


def answer_entry_id(interaction_id: str) -> str:
    """The entry of an answered question: its correction replaces its reactions' entry."""
    return f"answer-{interaction_id}"


def github_entry_id(repo: str, number: int) -> str:
    """The entry of a GitHub issue; owners have no '.', so owner, name and number stay apart."""
    owner, _, name = repo.partition("/")
    return f"github-{owner}.{name}.{number}"


# Lexical evidence -----------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9]+")
_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_QUOTED = re.compile(r"[`'\"]([^`'\"\s]{1,60})[`'\"]")
_IDENT = re.compile(r"[A-Za-z0-9_]+")
_STOP = frozenset(
    "a an the of to in on for with and or is are be by from how do does did i can what get "
    "using use into as at it its this that which way my me we you your there when why not "
    "should would will if any all".split()
)


def terms(text: str) -> set[str]:
    """Content words: identifiers split at case changes, lower-cased, stop words dropped,
    a plural -s trimmed."""
    found = set()
    for word in _WORD.findall(text):
        for part in _PART.findall(word) or [word]:
            term = part.lower()
            if term in _STOP or (len(term) < 2 and not term.isdigit()):
                continue
            found.add(term[:-1] if len(term) > 4 and term.endswith("s") else term)
    return found


def code_terms(text: str) -> set[str]:
    """Identifiers the text quotes (`x`, 'df', "name"): names a user copied from code."""
    return {w.lower() for quoted in _QUOTED.findall(text) for w in _IDENT.findall(quoted)}


def coverage(needles: set[str], haystack: set[str]) -> float:
    """The share of `needles` found in `haystack`; 0 when there are none."""
    return len(needles & haystack) / len(needles) if needles else 0.0


@dataclass(frozen=True, slots=True)
class MatchWeights:
    """How dense similarity and lexical evidence add up; fitted by `benchmarks.memory`."""

    dense: float = 0.8
    terms: float = 0.2
    code: float = 0.1


def match_score(
    question: str, text: str, cosine: float, weights: MatchWeights | None = None
) -> float:
    """How closely `question` matches an entry whose search text is `text`.

    dense * cosine + terms * (share of the question's content words in the entry) + code *
    (share of the identifiers the question quotes that the entry holds). Questions asked
    again in other words keep their content words and the names they quote.
    """
    w = weights or MatchWeights()
    words = _identifier_words(text)
    return round(
        w.dense * cosine
        + w.terms * coverage(terms(question), terms(text))
        + w.code * coverage(code_terms(question), words),
        4,
    )


def _identifier_words(text: str) -> set[str]:
    return {w.lower() for w in _IDENT.findall(text)}


# Endorsement rules ----------------------------------------------------------------------


def endorsers(feedback: Iterable[Feedback], *, min_endorsements: int) -> tuple[str, ...]:
    """The users who endorse an answer by their reactions, or () when the answer is not
    endorsed: at least `min_endorsements` distinct users positive and more positive than
    negative current labels (retracted ones are not current)."""
    positive = sorted({f.user_hash for f in feedback if f.label is FeedbackLabel.POSITIVE})
    negative = {f.user_hash for f in feedback if f.label is FeedbackLabel.NEGATIVE}
    if len(positive) >= max(min_endorsements, 1) and len(positive) > len(negative):
        return tuple(positive)
    return ()


def thread_link(platform: str, refs: Mapping[str, str]) -> str | None:
    """The web address of the thread a question was asked in, from its platform refs."""
    if platform == "github" and refs.get("repo") and refs.get("issue"):
        link = f"https://github.com/{refs['repo']}/issues/{refs['issue']}"
        return link + (f"#issuecomment-{refs['comment']}" if refs.get("comment") else "")
    if platform == "discord" and refs.get("channel"):
        where = f"https://discord.com/channels/{refs.get('guild') or '@me'}/{refs['channel']}"
        return where + (f"/{refs['message']}" if refs.get("message") else "")
    if platform == "slack" and refs.get("team") and refs.get("channel"):
        base = f"https://app.slack.com/client/{refs['team']}/{refs['channel']}"
        thread = refs.get("thread_ts") or refs.get("ts")
        return base + (f"/thread/{refs['channel']}-{thread}" if thread else "")
    return None


# How a hit leads an answer ---------------------------------------------------------------


def lead(hit: MemoryHit) -> str:
    """The sentence an answer starts with: who answered a similar question, when, what, where."""
    entry = hit.entry
    day = entry.endorsed_at[:10]
    if entry.source is MemorySource.REACTIONS:
        who = f"{len(entry.endorsed_by)} users endorsed an answer to a similar question on {day}"
    else:
        who = f"A maintainer answered a similar question on {day}"
    answer = entry.answer.strip()
    if len(answer) > _ANSWER_CUT:
        answer = answer[: _ANSWER_CUT - 1].rstrip() + "…"
    return f"{who}: {answer}" + (f" ({entry.link})" if entry.link else "")


def for_surface(hit: MemoryHit, *, platform: str) -> MemoryHit:
    """The hit with `asked_before` set when its question was asked on another surface."""
    entry = hit.entry
    link = entry.link if entry.link and entry.platform != platform else None
    return replace(hit, asked_before=link)


def best_hit(hits: Iterable[MemoryHit], *, threshold: float) -> MemoryHit | None:
    """The highest-scoring hit at or above `threshold`, or None."""
    best = max(hits, key=lambda h: h.score, default=None)
    return best if best is not None and best.score >= threshold else None


@dataclass(frozen=True, slots=True)
class Correction:
    """A maintainer's corrected answer to one answered question."""

    answer: str
    annotator: str
    created_at: str


@dataclass(frozen=True, slots=True)
class AnsweredQuestion:
    """What the memory needs of a recorded interaction."""

    interaction_id: str
    kb: str
    question: str
    answer: str
    abstained: bool
    led_by_memory: bool
    platform: str
    refs: Mapping[str, str]


def answer_entry(
    asked: AnsweredQuestion,
    *,
    correction: Correction | None,
    feedback: Iterable[Feedback],
    min_endorsements: int,
) -> MemoryEntry | None:
    """The entry an answered question earns, or None when it earns none (any more).

    A correction always makes one, replacing whatever the reactions said. Otherwise the
    reactions must endorse the answer (`endorsers`); an abstention (a canned text) or an
    answer that an entry already led earns none.
    """
    base = MemoryEntry(
        id=answer_entry_id(asked.interaction_id),
        kb=asked.kb,
        question=asked.question,
        answer=asked.answer.strip(),
        source=MemorySource.REACTIONS,
        endorsed_by=(),
        endorsed_at="",
        link=thread_link(asked.platform, asked.refs),
        platform=asked.platform,
        origin=f"interaction:{asked.interaction_id}",
    )
    if correction is not None and correction.answer.strip():
        return replace(
            base,
            answer=correction.answer.strip(),
            source=MemorySource.CORRECTION,
            endorsed_by=(correction.annotator,) if correction.annotator else (),
            endorsed_at=correction.created_at,
        )
    labels = list(feedback)
    users = endorsers(labels, min_endorsements=min_endorsements)
    if not users or asked.abstained or asked.led_by_memory:
        return None
    endorsed_at = max(f.created_at for f in labels if f.user_hash in users)
    return replace(base, endorsed_by=users, endorsed_at=endorsed_at)


MAINTAINER_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
_QUESTION_BODY_CHARS = 300


@dataclass(frozen=True, slots=True)
class IssueReply:
    """One comment on an issue: who wrote it, their relation to the repository, what, where."""

    author: str
    association: str
    is_bot: bool
    body: str
    created_at: str
    url: str


@dataclass(frozen=True, slots=True)
class ClosedIssue:
    """A closed issue and its comments, oldest first; `state_reason` as GitHub gives it."""

    repo: str
    number: int
    title: str
    body: str
    author: str
    state_reason: str | None
    closed_at: str
    url: str
    replies: tuple[IssueReply, ...]


def accepted_reply(issue: ClosedIssue) -> IssueReply | None:
    """The maintainer's reply that answered the issue: the last one by an OWNER, MEMBER or
    COLLABORATOR other than the asker (no bot), on an issue closed as completed."""
    if issue.state_reason not in (None, "completed"):
        return None
    answers = [
        r
        for r in issue.replies
        if r.association in MAINTAINER_ASSOCIATIONS
        and not r.is_bot
        and r.author != issue.author
        and r.body.strip()
    ]
    return answers[-1] if answers else None


def github_entry(issue: ClosedIssue, *, kb: str) -> MemoryEntry | None:
    """The entry a closed issue earns through its accepted reply, or None."""
    reply = accepted_reply(issue)
    if reply is None:
        return None
    body = " ".join(issue.body.split())
    if len(body) > _QUESTION_BODY_CHARS:
        body = body[: _QUESTION_BODY_CHARS - 1].rstrip() + "…"
    return MemoryEntry(
        id=github_entry_id(issue.repo, issue.number),
        kb=kb,
        question=f"{issue.title.strip()}\n{body}".strip(),
        answer=reply.body.strip(),
        source=MemorySource.GITHUB,
        endorsed_by=(reply.author,),
        endorsed_at=reply.created_at,
        link=reply.url or issue.url,
        platform="github",
        origin=f"github:{issue.repo}#{issue.number}",
    )
