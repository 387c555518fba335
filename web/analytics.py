"""The maintainer dashboard's numbers, from the interaction and feedback logs.

The logs are one object per interaction and per (answer, user) label, so reading them all
for every view would cost one request per object. The aggregate keeps, beside the logs:

- `analytics/interactions/YYYY/MM/DD.json`: one compact row per interaction of a UTC day. A
  view lists only the days that may still change (the last `settle_days`) and reads only the
  interactions it has not seen; an older day is sealed.
- `analytics/days/YYYY/MM/DD.json`: the summary of a sealed day, the counts a view needs
  (questions by surface, declined, pages cited, answers by model, per knowledge base), the
  latest declined questions, and the day's interaction ids, most recent first, each with its
  knowledge base and model. A view reads a sealed day as this one object, never its rows.
- `analytics/feedback.json`: the current labels, refreshed on every view (one listing of
  the feedback log, then only the labels that changed). Labels are folded into the day
  summaries at view time, through the ids, so feedback that comes after a day was sealed
  still counts.

A summary names the version of the day's rows it was made from and carries a SHA-256 of its
contents: one that does not match (the rows were rebuilt, the file is damaged or of another
format) is made again from the rows, and rows that are gone or unreadable from the logs.
Delete `analytics/` to rebuild everything from the logs.
"""

from __future__ import annotations

import hashlib
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
SUMMARIES = f"{ANALYTICS}days/"
FEEDBACK_SHARD = f"{ANALYTICS}feedback.json"
SURFACES = ("slack", "discord", "github", "web", "api")
QUESTION_CHARS = 300
LISTED = 20
_CITATION = re.compile(r"\[(\d{1,2})\]")
_FORMAT = 1
_SUMMARY_FORMAT = 1
_ROWS_KEPT = 1000


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


def _instant(at: str) -> float:
    """POSIX seconds of an ISO time (UTC when it has no offset); unreadable ones sort oldest."""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return float("-inf")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def recent_first(rows: Iterable[Row]) -> list[Row]:
    """The rows, the most recently asked first; those asked at the same time by id."""
    return sorted(rows, key=lambda r: (-_instant(r.at), r.id))


def _counts(value: Any) -> Counter[str]:
    """A Counter from a stored {name: positive int}; ValueError when it is anything else."""
    if not isinstance(value, dict):
        raise ValueError(f"counts are {type(value).__name__}, not an object")
    for name, n in value.items():
        if type(n) is not int or n < 1:
            raise ValueError(f"count {name!r} is {n!r}, not a positive integer")
    return Counter(value)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"count {value!r} is not a non-negative integer")
    return value


@dataclass(slots=True)
class KbDay:
    """One knowledge base's questions of one UTC day."""

    total: int = 0
    declined: int = 0
    surfaces: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)  # questions citing each page
    answers: Counter[str] = field(default_factory=Counter)  # by the model routed to
    declines: Counter[str] = field(default_factory=Counter)  # by the model routed to
    declined_rows: list[Row] = field(default_factory=list)  # the latest LISTED, latest first

    def add(self, row: Row) -> None:
        self.total += 1
        self.surfaces[row.platform] += 1
        self.pages.update(row.cited)
        self.answers[row.routed] += 1
        if row.abstained:
            self.declined += 1
            self.declines[row.routed] += 1
            if len(self.declined_rows) < LISTED:
                self.declined_rows.append(row)

    def encode(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "declined": self.declined,
            "surfaces": dict(self.surfaces),
            "pages": dict(self.pages),
            "answers": dict(self.answers),
            "declines": dict(self.declines),
            "declined_rows": [r.encode() for r in self.declined_rows],
        }

    @classmethod
    def decode(cls, v: dict[str, Any]) -> KbDay:
        kb_day = cls(
            total=_count(v["total"]),
            declined=_count(v["declined"]),
            surfaces=_counts(v["surfaces"]),
            pages=_counts(v["pages"]),
            answers=_counts(v["answers"]),
            declines=_counts(v["declines"]),
            declined_rows=[Row.decode(r) for r in v["declined_rows"]],
        )
        if (
            kb_day.declined > kb_day.total
            or kb_day.total != sum(kb_day.surfaces.values())
            or kb_day.total != sum(kb_day.answers.values())
            or kb_day.declined != sum(kb_day.declines.values())
            or len(kb_day.declined_rows) != min(kb_day.declined, LISTED)
        ):
            raise ValueError("the counts of a knowledge base do not add up")
        return kb_day


@dataclass(slots=True)
class DaySummary:
    """What the dashboard needs of one UTC day's interactions, and their ids to fold the
    current labels in: `ids` most recent first, `group_of[i]` indexes `groups`, the
    (knowledge base, model routed to) of `ids[i]`."""

    day: date
    kbs: dict[str, KbDay]
    ids: list[str]
    groups: list[tuple[str, str]]
    group_of: list[int]
    _positions: dict[str, int] | None = None

    @classmethod
    def of_rows(cls, day: date, rows: Iterable[Row]) -> DaySummary:
        kbs: dict[str, KbDay] = {}
        groups: dict[tuple[str, str], int] = {}
        ids, group_of = [], []
        for row in recent_first(rows):
            kb_day = kbs.get(row.kb)
            if kb_day is None:
                kb_day = kbs[row.kb] = KbDay()
            kb_day.add(row)
            ids.append(row.id)
            group_of.append(groups.setdefault((row.kb, row.routed), len(groups)))
        return cls(day, kbs, ids, list(groups), group_of)

    def positions(self) -> dict[str, int]:
        """Interaction id -> its index in `ids` (built on first use)."""
        if self._positions is None:
            self._positions = dict(zip(self.ids, range(len(self.ids)), strict=True))
        return self._positions

    def encode(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "kbs": {name: kb_day.encode() for name, kb_day in self.kbs.items()},
            "ids": self.ids,
            "groups": [list(g) for g in self.groups],
            "group_of": self.group_of,
        }

    @classmethod
    def decode(cls, day: date, v: dict[str, Any]) -> DaySummary:
        """The summary of `day` in `v`; ValueError (or KeyError, TypeError) when it is not
        consistent: another day, counts that do not add up, ids without their group."""
        if v["day"] != day.isoformat():
            raise ValueError(f"the summary is of {v['day']!r}")
        kbs = {str(name): KbDay.decode(kb_day) for name, kb_day in v["kbs"].items()}
        ids, group_of = v["ids"], v["group_of"]
        groups = [(str(kb), str(model)) for kb, model in v["groups"]]
        if not (isinstance(ids, list) and isinstance(group_of, list)):
            raise ValueError("ids and group_of are not lists")
        if len(ids) != len(group_of) or len(set(ids)) != len(ids):
            raise ValueError("ids and their groups do not match")
        if any(type(g) is not int or not 0 <= g < len(groups) for g in group_of):
            raise ValueError("an id has no group")
        if sum(kb_day.total for kb_day in kbs.values()) != len(ids):
            raise ValueError("the counts do not add up to the ids")
        if not all(isinstance(i, str) for i in ids) or {kb for kb, _ in groups} != set(kbs):
            raise ValueError("the ids' groups do not match the knowledge bases")
        return cls(day, kbs, ids, groups, group_of)

    def to_bytes(self, source: str) -> bytes:
        """A header line (format, day, the rows' version `source`, the body's SHA-256), then
        the body."""
        body = json.dumps(self.encode(), ensure_ascii=False, separators=(",", ":")).encode()
        head = {
            "format": _SUMMARY_FORMAT,
            "day": self.day.isoformat(),
            "source": source,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        return json.dumps(head, separators=(",", ":")).encode() + b"\n" + body


class StaleSummary(ValueError):
    """A stored summary of another format or day, or made from other rows than the day's."""


def summary_from_bytes(data: bytes, *, day: date, source: str) -> DaySummary:
    """The stored summary of `day` made from the rows of version `source`; StaleSummary when
    it is of another format, day or version, ValueError when it is damaged."""
    head_line, sep, body = data.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    try:
        head = json.loads(head_line)
        if not isinstance(head, dict):
            raise ValueError("the header is not an object")
    except ValueError as exc:
        raise ValueError(f"unreadable header: {exc}") from None
    if head.get("format") != _SUMMARY_FORMAT or head.get("day") != day.isoformat():
        raise StaleSummary(f"format {head.get('format')!r} of {head.get('day')!r}")
    if head.get("source") != source:
        raise StaleSummary("made from other rows than the day's")
    if hashlib.sha256(body).hexdigest() != head.get("sha256"):
        raise ValueError("the SHA-256 does not match")
    try:
        return DaySummary.decode(day, json.loads(body))
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"malformed summary: {exc!r}") from None


@dataclass(slots=True)
class _Day:
    rows: dict[str, Row] = field(default_factory=dict)
    sealed: bool = False
    dirty: bool = False
    source: str | None = None  # the stored rows' version, when known
    unsaved: bool = False  # the last save of the rows failed
    summary: DaySummary | None = None  # of `rows` as they are


@dataclass(frozen=True, slots=True)
class _Kept:
    source: str
    summary: DaySummary


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

    Thread-safe; `rows`, `summaries`, `row` and `labels` do blocking I/O (call them from a
    worker thread). Raises StoreUnavailable when the store cannot be listed or read; failing
    to save the aggregate only costs the next process a rebuild.
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
        self._sealed: dict[date, _Kept] = {}
        self._read: dict[tuple[date, str], Row] = {}
        self._labels: dict[str, _Label] | None = None
        self._lock = threading.Lock()

    def rows(self, start: date, end: date) -> list[Row]:
        """Every interaction asked from `start` to `end` (UTC days, inclusive)."""
        with self._lock:
            found: list[Row] = []
            for day in days_between(start, end):
                found.extend(self._day(day).rows.values())
            return found

    def summaries(self, start: date, end: date) -> list[DaySummary]:
        """The summary of every day from `start` to `end` (UTC, inclusive), oldest first: a
        sealed day's from its stored summary, made (and stored) when it is missing or does
        not match the day's rows; a day that may still change from its rows."""
        with self._lock:
            settled = self._today() - self._settle
            days = list(days_between(start, end))
            versions = self._shard_versions([d for d in days if d < settled])
            return [
                self._sealed_summary(d, versions.get(d)) if d < settled else self._open_summary(d)
                for d in days
            ]

    def row(self, day: date, interaction_id: str) -> Row | None:
        """One interaction of `day` (its log object, else the day's rows); None when gone."""
        with self._lock:
            known = self._days.get(day)
            if known is not None and interaction_id in known.rows:
                return known.rows[interaction_id]
            found = self._read.get((day, interaction_id))
            if found is not None:
                return found
            key = f"{INTERACTIONS}{_day_prefix(day)}/{interaction_id}.json"
            try:
                found = row_of(json.loads(self._store.get(key)), default_kb=self._default_kb)
            except KeyError:
                found = self._day(day).rows.get(interaction_id)
            except (ValueError, TypeError, AttributeError) as exc:
                _log.error("unreadable interaction %s: %s", key, exc)
                found = self._day(day).rows.get(interaction_id)
            if found is not None:
                if len(self._read) >= _ROWS_KEPT:
                    self._read.clear()
                self._read[(day, interaction_id)] = found
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

    def _open_summary(self, day: date) -> DaySummary:
        known = self._day(day)
        if known.summary is None:
            known.summary = DaySummary.of_rows(day, known.rows.values())
        return known.summary

    def _sealed_summary(self, day: date, version: str | None) -> DaySummary:
        """`version`: that of the day's stored rows, None when there are none."""
        kept = self._sealed.get(day)
        if kept is not None and kept.source == version:
            return kept.summary
        if version is not None:
            stored = self._load_summary(day, version)
            if stored is not None:
                self._sealed[day] = _Kept(version, stored)
                self._days.pop(day, None)
                return stored
        known = self._days.get(day)
        if known is not None and known.sealed and known.source != version:
            del self._days[day]  # the stored rows changed or went since they were read
        known = self._day(day)
        if known.source is None and not known.unsaved:
            known.source = version  # read as stored
        summary = DaySummary.of_rows(day, known.rows.values())
        source = known.source if known.sealed else None
        if source is not None and self._save(self._summary_key(day), summary.to_bytes(source)):
            self._sealed[day] = _Kept(source, summary)
            del self._days[day]  # the summary is all a view needs of a sealed day
        return summary

    def _load_summary(self, day: date, version: str) -> DaySummary | None:
        try:
            data = self._store.get(self._summary_key(day))
        except KeyError:
            return None
        try:
            return summary_from_bytes(data, day=day, source=version)
        except StaleSummary as exc:
            _log.info("remaking the stale summary of %s: %s", day, exc)
        except ValueError as exc:
            _log.warning("remaking the damaged summary of %s: %s", day, exc)
        return None

    def _shard_versions(self, days: list[date]) -> dict[date, str]:
        """The version of each day's stored rows (one listing per month; "" when the store
        lists no versions); a day without stored rows is left out."""
        wanted = {self._shard_key(d): d for d in days}
        versions: dict[date, str] = {}
        for month in dict.fromkeys(d.strftime("%Y/%m/") for d in days):
            for key, version in self._listing(f"{SHARDS}{month}"):
                if key in wanted:
                    versions[wanted[key]] = version
        return versions

    def _listing(self, prefix: str) -> Iterable[tuple[str, str]]:
        if isinstance(self._store, VersionedListing):
            return self._store.list_versions(prefix)
        return ((key, "") for key in self._store.list(prefix))

    def _day(self, day: date) -> _Day:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._load(day)
        if not known.sealed:
            self._update(day, known)
        return known

    def _shard_key(self, day: date) -> str:
        return f"{SHARDS}{_day_prefix(day)}.json"

    def _summary_key(self, day: date) -> str:
        return f"{SUMMARIES}{_day_prefix(day)}.json"

    def _load(self, day: date) -> _Day:
        try:
            data = json.loads(self._store.get(self._shard_key(day)))
            if data.get("format") != _FORMAT:
                return _Day()
            rows = (Row.decode(v) for v in data["rows"])
            return _Day(rows={r.id: r for r in rows}, sealed=bool(data.get("sealed")))
        except KeyError:
            return _Day()
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
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
            known.summary = None
        if settled and not known.sealed:
            known.sealed = known.dirty = True
        if known.dirty:
            key = self._shard_key(day)
            rows = {"format": _FORMAT, "sealed": known.sealed,
                    "rows": [r.encode() for r in known.rows.values()]}  # fmt: skip
            saved = self._save(key, json.dumps(rows, ensure_ascii=False, separators=(",", ":")))
            known.source = self._version(key) if saved and known.sealed else None
            known.unsaved = not saved
            known.dirty = False

    def _version(self, key: str) -> str | None:
        """The version of the stored object `key`; None when it cannot be listed."""
        try:
            return next((v for k, v in self._listing(key) if k == key), None)
        except StoreUnavailable as exc:
            _log.warning("could not list the dashboard aggregate %s: %s", key, exc)
            return None

    def _refresh_labels(self) -> None:
        if self._labels is None:
            self._labels = self._load_labels()
        seen: set[str] = set()
        changed = False
        for key, version in self._listing(FEEDBACK):
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
            value = {"format": _FORMAT, "labels": labels}
            self._save(FEEDBACK_SHARD, json.dumps(value, ensure_ascii=False, separators=(",", ":")))

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

    def _save(self, key: str, value: str | bytes) -> bool:
        try:
            self._store.put(key, value.encode() if isinstance(value, str) else value)
        except StoreUnavailable as exc:
            _log.warning("could not save the dashboard aggregate %s: %s", key, exc)
            return False
        return True


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


def dashboard_of(
    days: list[DaySummary],
    labels: dict[str, Counter[str]],
    *,
    start: date,
    end: date,
    kb: str | None,
    row: Callable[[date, str], Row | None],
    top: int = 10,
) -> Dashboard:
    """The dashboard of one period's day summaries, restricted to `kb` when given, with the
    current `labels` folded in; `row` gives the interactions listed as disliked."""
    names = sorted({name for summary in days for name in summary.kbs})
    total = declined = disliked = 0
    per_day: list[tuple[date, dict[str, int]]] = []
    pages: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    declines: Counter[str] = Counter()
    positive: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    declined_rows: list[Row] = []
    disliked_ids: list[tuple[date, str]] = []
    for summary in sorted(days, key=lambda s: s.day, reverse=True):
        chosen = [v for name, v in summary.kbs.items() if kb is None or name == kb]
        surfaces: Counter[str] = Counter()
        for kb_day in chosen:
            total += kb_day.total
            declined += kb_day.declined
            surfaces.update(kb_day.surfaces)
            pages.update(kb_day.pages)
            answers.update(kb_day.answers)
            declines.update(kb_day.declines)
        per_day.append((summary.day, dict(surfaces)))
        if len(declined_rows) < LISTED:
            latest = recent_first(r for kb_day in chosen for r in kb_day.declined_rows)
            declined_rows.extend(latest[: LISTED - len(declined_rows)])
        positions = summary.positions()
        for at in sorted(positions[i] for i in labels.keys() & positions.keys()):
            name, model = summary.groups[summary.group_of[at]]
            if kb is not None and name != kb:
                continue
            votes = labels[summary.ids[at]]
            positive[model] += votes["positive"]
            negative[model] += votes["negative"]
            if votes["negative"]:
                disliked += 1
                if len(disliked_ids) < LISTED:
                    disliked_ids.append((summary.day, summary.ids[at]))
    per_day.reverse()
    disliked_rows = [r for r in (row(d, i) for d, i in disliked_ids) if r is not None]
    ranked = sorted(pages.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return Dashboard(
        start=start,
        end=end,
        kb=kb,
        knowledge_bases=names,
        total=total,
        answered=total - declined,
        declined=declined,
        disliked=disliked,
        per_day=per_day,
        top_pages=[PageShare(p, n, n / total) for p, n in ranked],
        declined_questions=declined_rows,
        disliked_questions=disliked_rows,
        models=[
            ModelStats(m, answers[m], declines[m], positive[m], negative[m])
            for m in sorted(answers, key=lambda m: (-answers[m], m))
        ],
    )


def build_dashboard(
    rows: list[Row],
    labels: dict[str, Counter[str]],
    *,
    start: date,
    end: date,
    kb: str | None,
    top: int = 10,
) -> Dashboard:
    """The dashboard of `rows` (one period, each on the UTC day it was asked), restricted to
    `kb` when given."""
    by_day: dict[date, dict[str, Row]] = {d: {} for d in days_between(start, end)}
    for r in rows:
        by_day.setdefault(datetime.fromisoformat(r.at).astimezone(UTC).date(), {})[r.id] = r
    days = [DaySummary.of_rows(d, found.values()) for d, found in by_day.items()]
    return dashboard_of(
        days,
        labels,
        start=start,
        end=end,
        kb=kb,
        row=lambda d, i: by_day[d].get(i),
        top=top,
    )


class DashboardService:
    """The dashboard for a period, over the incremental aggregate of the logs."""

    def __init__(self, aggregate: LogAggregate) -> None:
        self._aggregate = aggregate

    def dashboard(self, *, start: date, end: date, kb: str | None) -> Dashboard:
        """Blocking (reads the store); StoreUnavailable when it cannot be read."""
        days = self._aggregate.summaries(start, end)
        labels = self._aggregate.labels()
        return dashboard_of(days, labels, start=start, end=end, kb=kb, row=self._aggregate.row)
