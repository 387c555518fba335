"""The maintainer dashboard's numbers, from the interaction and feedback logs.

The logs are one object per interaction and per (answer, user) label, so reading them all
for every view would cost one request per object. The aggregate keeps one compact row per
interaction, grouped by UTC day, in `analytics/interactions/YYYY/MM/DD.json`, and the
current labels in `analytics/feedback.json`: a view lists only the days that may still
change (the last `settle_days`) and reads only the objects it has not seen. A day older than
that is sealed and read as one object. Delete `analytics/` to rebuild it from the logs.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.errors import StoreUnavailable
from core.object_keys import ANALYTICS, FEEDBACK, INTERACTIONS
from core.ports import ObjectStore, VersionedListing

_log = logging.getLogger(__name__)

SHARDS = f"{ANALYTICS}interactions/"
FEEDBACK_SHARD = f"{ANALYTICS}feedback.json"
SURFACES = ("slack", "discord", "github", "web", "api")
QUESTION_CHARS = 300
LISTED = 20
_CITATION = re.compile(r"\[(\d{1,2})\]")
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Row:
    """One interaction as the dashboard needs it."""

    id: str
    at: str
    kb: str
    platform: str
    abstained: bool
    model: str
    routed: str
    question: str
    cited: tuple[str, ...]

    def encode(self) -> list[Any]:
        return [self.id, self.at, self.kb, self.platform, int(self.abstained), self.model,
                self.routed, self.question, list(self.cited)]  # fmt: skip

    @classmethod
    def decode(cls, v: list[Any]) -> Row:
        return cls(v[0], v[1], v[2], v[3], bool(v[4]), v[5], v[6], v[7], tuple(v[8]))


def cited_pages(answer: dict[str, Any]) -> tuple[str, ...]:
    """The pages an answer cites: its `[n]` references, else its best source; none when it
    declined."""
    if answer.get("abstained"):
        return ()
    paths = [str(s.get("path", "")) for s in answer.get("sources") or []]
    numbers = {int(n) for n in _CITATION.findall(str(answer.get("text", "")))}
    cited = [paths[n - 1] for n in sorted(numbers) if 1 <= n <= len(paths)]
    if not cited and paths:
        cited = paths[:1]
    return tuple(dict.fromkeys(p for p in cited if p))


def row_of(record: dict[str, Any], *, default_kb: str) -> Row:
    """A stored interaction record as a Row; KeyError/TypeError/ValueError when malformed."""
    q, a = record["question"], record["answer"]
    sources = a.get("sources") or []
    kb = q.get("kb") or (sources[0].get("kb") if sources else None) or default_kb
    model = str(a.get("model", ""))
    return Row(
        id=str(record["id"]),
        at=str(record["created_at"]),
        kb=str(kb),
        platform=str(q.get("platform") or "api"),
        abstained=bool(a.get("abstained")),
        model=model,
        routed=str(a.get("routed_model") or model),
        question=str(q.get("text", ""))[:QUESTION_CHARS],
        cited=cited_pages(a),
    )


@dataclass(slots=True)
class _Day:
    rows: dict[str, Row] = field(default_factory=dict)
    sealed: bool = False
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class _Label:
    version: str
    interaction_id: str
    label: str | None


def _day_prefix(day: date) -> str:
    return day.strftime("%Y/%m/%d")


def days_between(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


class LogAggregate:
    """The incremental aggregate of the logs in `store` (see the module's docstring).

    Thread-safe; `rows` and `labels` do blocking I/O (call them from a worker thread).
    Raises StoreUnavailable when the store cannot be listed; failing to save the aggregate
    only costs the next process a rebuild.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        default_kb: str,
        settle_days: int = 2,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._store = store
        self._default_kb = default_kb
        self._settle = timedelta(days=settle_days)
        self._today = today
        self._days: dict[date, _Day] = {}
        self._labels: dict[str, _Label] | None = None
        self._lock = threading.Lock()

    def rows(self, start: date, end: date) -> list[Row]:
        """Every interaction asked from `start` to `end` (UTC days, inclusive)."""
        with self._lock:
            found: list[Row] = []
            for day in days_between(start, end):
                found.extend(self._day(day).rows.values())
            return found

    def labels(self) -> dict[str, Counter[str]]:
        """Interaction id -> how many current labels of each kind (positive, negative)."""
        with self._lock:
            self._refresh_labels()
            assert self._labels is not None
            counts: dict[str, Counter[str]] = {}
            for entry in self._labels.values():
                if entry.label is not None:
                    counts.setdefault(entry.interaction_id, Counter())[entry.label] += 1
            return counts

    def _day(self, day: date) -> _Day:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._load(day)
        if not known.sealed:
            self._update(day, known)
        return known

    def _shard_key(self, day: date) -> str:
        return f"{SHARDS}{_day_prefix(day)}.json"

    def _load(self, day: date) -> _Day:
        try:
            data = json.loads(self._store.get(self._shard_key(day)))
            if data.get("format") != _FORMAT:
                return _Day()
            rows = (Row.decode(v) for v in data["rows"])
            return _Day(rows={r.id: r for r in rows}, sealed=bool(data.get("sealed")))
        except KeyError:
            return _Day()
        except (ValueError, TypeError, IndexError) as exc:
            _log.warning("rebuilding unreadable aggregate of %s: %s", day, exc)
            return _Day()

    def _update(self, day: date, known: _Day) -> None:
        settled = day < self._today() - self._settle
        for key in self._store.list(f"{INTERACTIONS}{_day_prefix(day)}/"):
            interaction_id = key.rsplit("/", 1)[-1].removesuffix(".json")
            if interaction_id in known.rows:
                continue
            try:
                record = json.loads(self._store.get(key))
                known.rows[interaction_id] = row_of(record, default_kb=self._default_kb)
            except KeyError:
                continue  # deleted since it was listed
            except (ValueError, TypeError, AttributeError) as exc:
                _log.error("skipping unreadable interaction %s: %s", key, exc)
                continue
            known.dirty = True
        if settled and not known.sealed:
            known.sealed = known.dirty = True
        if known.dirty:
            self._save(self._shard_key(day), {
                "format": _FORMAT,
                "sealed": known.sealed,
                "rows": [r.encode() for r in known.rows.values()],
            })  # fmt: skip
            known.dirty = False

    def _refresh_labels(self) -> None:
        if self._labels is None:
            self._labels = self._load_labels()
        listing: Iterable[tuple[str, str]]
        if isinstance(self._store, VersionedListing):
            listing = self._store.list_versions(FEEDBACK)
        else:
            listing = ((key, "") for key in self._store.list(FEEDBACK))
        seen: set[str] = set()
        changed = False
        for key, version in listing:
            seen.add(key)
            known = self._labels.get(key)
            if known is not None and version and known.version == version:
                continue
            try:
                record = json.loads(self._store.get(key))
                label = record.get("label")
                entry = _Label(version, str(record["interaction_id"]), label and str(label))
            except KeyError:
                continue
            except (ValueError, TypeError, AttributeError) as exc:
                _log.error("skipping unreadable feedback %s: %s", key, exc)
                continue
            if entry != known:
                self._labels[key] = entry
                changed = True
        for gone in set(self._labels) - seen:
            del self._labels[gone]
            changed = True
        if changed:
            labels = {k: [v.version, v.interaction_id, v.label] for k, v in self._labels.items()}
            self._save(FEEDBACK_SHARD, {"format": _FORMAT, "labels": labels})

    def _load_labels(self) -> dict[str, _Label]:
        try:
            data = json.loads(self._store.get(FEEDBACK_SHARD))
            if data.get("format") != _FORMAT:
                return {}
            return {k: _Label(v[0], v[1], v[2]) for k, v in data["labels"].items()}
        except KeyError:
            return {}
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            _log.warning("rebuilding unreadable feedback aggregate: %s", exc)
            return {}

    def _save(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._store.put(
                key, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
            )
        except StoreUnavailable as exc:
            _log.warning("could not save the dashboard aggregate %s: %s", key, exc)


@dataclass(frozen=True, slots=True)
class PageShare:
    path: str
    questions: int
    share: float


@dataclass(frozen=True, slots=True)
class ModelStats:
    model: str
    answers: int
    declined: int
    positive: int
    negative: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What /admin shows for a period and knowledge base (None: all of them)."""

    start: date
    end: date
    kb: str | None
    knowledge_bases: list[str]
    total: int
    answered: int
    declined: int
    disliked: int
    per_day: list[tuple[date, dict[str, int]]]
    top_pages: list[PageShare]
    declined_questions: list[Row]
    disliked_questions: list[Row]
    models: list[ModelStats]

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0


def build_dashboard(
    rows: list[Row],
    labels: dict[str, Counter[str]],
    *,
    start: date,
    end: date,
    kb: str | None,
    top: int = 10,
) -> Dashboard:
    """The dashboard of `rows` (one period), restricted to `kb` when given."""
    names = sorted({r.kb for r in rows})
    chosen = [r for r in rows if kb is None or r.kb == kb]
    chosen.sort(key=lambda r: r.at, reverse=True)
    per_day: dict[date, Counter[str]] = {d: Counter() for d in days_between(start, end)}
    pages: Counter[str] = Counter()
    models: dict[str, Counter[str]] = {}
    declined, disliked = [], []
    for r in chosen:
        day = datetime.fromisoformat(r.at).astimezone(UTC).date()
        per_day.setdefault(day, Counter())[r.platform] += 1
        pages.update(r.cited)
        votes = labels.get(r.id, Counter())
        stats = models.setdefault(r.routed, Counter())
        stats["answers"] += 1
        stats["positive"] += votes["positive"]
        stats["negative"] += votes["negative"]
        if r.abstained:
            declined.append(r)
            stats["declined"] += 1
        if votes["negative"]:
            disliked.append(r)
    total = len(chosen)
    return Dashboard(
        start=start,
        end=end,
        kb=kb,
        knowledge_bases=names,
        total=total,
        answered=total - len(declined),
        declined=len(declined),
        disliked=len(disliked),
        per_day=[(d, dict(c)) for d, c in sorted(per_day.items())],
        top_pages=[PageShare(p, n, n / total) for p, n in pages.most_common(top)],
        declined_questions=declined[:LISTED],
        disliked_questions=disliked[:LISTED],
        models=[
            ModelStats(m, c["answers"], c["declined"], c["positive"], c["negative"])
            for m, c in sorted(models.items(), key=lambda kv: -kv[1]["answers"])
        ],
    )


class DashboardService:
    """The dashboard for a period, over the incremental aggregate of the logs."""

    def __init__(self, aggregate: LogAggregate) -> None:
        self._aggregate = aggregate

    def dashboard(self, *, start: date, end: date, kb: str | None) -> Dashboard:
        """Blocking (reads the store); StoreUnavailable when it cannot be read."""
        rows = self._aggregate.rows(start, end)
        return build_dashboard(rows, self._aggregate.labels(), start=start, end=end, kb=kb)
