"""The dashboard's aggregate over an in-memory store: the day summaries of sealed days, kept
beside the logs and reused by a new process, labels folded in at view time, damaged or stale
summaries made again, and the order of ties."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from core.object_keys import INTERACTIONS
from core.ports import ObjectStore, VersionedListing
from core.types import FeedbackLabel
from tests.fakes import MemoryObjectStore, VersionedMemoryObjectStore
from tests.web.seeds import TODAY, Seed, put_interaction, put_label
from web.analytics import (
    SHARDS,
    SUMMARIES,
    Dashboard,
    DashboardService,
    LogAggregate,
    summary_from_bytes,
)

DAY = TODAY.date()
A, B = "adapter-v1", "adapter-v2"
# Days 0-2 may still change; days 3 and 5 are sealed (settle_days=2).
SEEDS = [
    Seed("b0000001", 5, "slack", "See [1].", ("a.md",), A),
    Seed("b0000002", 5, "web", "I don't know.", ("x.md",), A, abstained=True),
    Seed("b0000003", 3, "discord", "See [1] and [2].", ("a.md", "b.md"), B),
    Seed("b0000004", 3, "api", "Use it.", ("c.md",), A, kb="other"),
    Seed("b0000005", 1, "github", "Here [1].", ("b.md",), B),
    Seed("b0000006", 0, "web", "I don't know.", ("c.md",), A, abstained=True),
]
SEALED = (DAY - timedelta(days=5), DAY - timedelta(days=3))
SEALED_IN_VIEW = [DAY - timedelta(days=n) for n in range(3, 7)]  # of a 7-day view


class _Recording(MemoryObjectStore):
    """Remembers every key read and every prefix listed."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []
        self.listed: list[str] = []

    def get(self, key: str) -> bytes:
        self.read.append(key)
        return super().get(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        self.listed.append(prefix)
        return super().list(prefix)


class UnversionedRecordingStore(_Recording):
    pass


class RecordingStore(_Recording, VersionedMemoryObjectStore):
    """A versioned store that also records the prefixes whose versions it lists."""

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        self.listed.append(prefix)
        return super().list_versions(prefix)


@pytest.fixture(params=["versioned", "unversioned"])
def store(request: pytest.FixtureRequest) -> Iterator[RecordingStore | UnversionedRecordingStore]:
    """The seeded logs, in a store that lists versions (like S3 and the local store) or not."""
    found = RecordingStore() if request.param == "versioned" else UnversionedRecordingStore()
    for seed in SEEDS:
        put_interaction(found, seed)
    put_label(found, "b0000001", "1" * 32, FeedbackLabel.POSITIVE)
    put_label(found, "b0000003", "2" * 32, FeedbackLabel.NEGATIVE)
    yield found


def view(store: ObjectStore, days: int = 7, kb: str | None = None) -> Dashboard:
    """A view from a new process: a new aggregate over the store."""
    aggregate = LogAggregate(store, default_kb="default", today=lambda: DAY)
    return DashboardService(aggregate).dashboard(
        start=DAY - timedelta(days=days - 1), end=DAY, kb=kb
    )


def week(service: DashboardService) -> Dashboard:
    return service.dashboard(start=DAY - timedelta(days=6), end=DAY, kb=None)


def summary_key(day: date) -> str:
    return f"{SUMMARIES}{day:%Y/%m/%d}.json"


def shard_key(day: date) -> str:
    return f"{SHARDS}{day:%Y/%m/%d}.json"


def figures(board: Dashboard) -> dict[str, object]:
    return {
        "total": board.total,
        "declined": board.declined,
        "disliked": board.disliked,
        "per_day": {d.isoformat(): c for d, c in board.per_day if c},
        "pages": [(p.path, p.questions) for p in board.top_pages],
        "declined_q": [r.id for r in board.declined_questions],
        "disliked_q": [r.id for r in board.disliked_questions],
        "models": [(m.model, m.answers, m.declined, m.positive, m.negative) for m in board.models],
        "kbs": board.knowledge_bases,
    }


EXPECTED = {
    "total": 6,
    "declined": 2,
    "disliked": 1,
    "per_day": {
        (DAY - timedelta(days=n)).isoformat(): counts
        for n, counts in [
            (5, {"slack": 1, "web": 1}),
            (3, {"discord": 1, "api": 1}),
            (1, {"github": 1}),
            (0, {"web": 1}),
        ]
    },
    "pages": [("a.md", 2), ("b.md", 2), ("c.md", 1)],
    "declined_q": ["b0000006", "b0000002"],
    "disliked_q": ["b0000003"],
    "models": [(A, 4, 2, 1, 0), (B, 2, 0, 0, 1)],
    "kbs": ["default", "other"],
}


def test_summaries_are_kept_and_a_new_process_reads_no_sealed_rows(
    store: RecordingStore | UnversionedRecordingStore,
) -> None:
    """The first view stores a summary for each sealed day only; a view from a new process
    reads those summaries, neither lists nor reads the sealed days' interactions or rows
    (but the disliked questions it shows), and shows the same figures."""
    first = view(store)
    assert figures(first) == EXPECTED
    kept = sorted(k for k in store.objects if k.startswith(SUMMARIES))
    assert kept == sorted(summary_key(d) for d in SEALED_IN_VIEW)

    store.read.clear()
    store.listed.clear()
    again = view(store)
    assert again == first
    sealed_logs = tuple(f"{INTERACTIONS}{d:%Y/%m/%d}/" for d in SEALED_IN_VIEW)
    assert not [k for k in store.listed if k.startswith(sealed_logs)]
    shown = f"{INTERACTIONS}{DAY - timedelta(days=3):%Y/%m/%d}/b0000003.json"
    assert [k for k in store.read if k.startswith(sealed_logs)] == [shown]  # disliked
    assert not set(store.read) & {shard_key(d) for d in SEALED_IN_VIEW}
    assert {summary_key(d) for d in SEALED_IN_VIEW} <= set(store.read)
    assert {shard_key(d) for d in [DAY, DAY - timedelta(days=1)]} <= set(store.read)
    assert figures(view(store, kb="other")) == {
        **EXPECTED,
        "total": 1,
        "declined": 0,
        "disliked": 0,
        "per_day": {(DAY - timedelta(days=3)).isoformat(): {"api": 1}},
        "pages": [("c.md", 1)],
        "declined_q": [],
        "disliked_q": [],
        "models": [(A, 1, 0, 0, 0)],
    }


def test_feedback_after_a_day_is_summarised_still_counts(
    store: RecordingStore | UnversionedRecordingStore,
) -> None:
    """Labels given, changed or taken back after a sealed day's summary was stored show in
    the next view, of this process and of a new one; the summary itself is not rewritten."""
    service = DashboardService(LogAggregate(store, default_kb="default", today=lambda: DAY))
    assert figures(week(service)) == EXPECTED
    summaries = {k: v for k, v in store.objects.items() if k.startswith(SUMMARIES)}

    put_label(store, "b0000002", "3" * 32, FeedbackLabel.NEGATIVE)  # day 5, declined
    put_label(store, "b0000004", "3" * 32, FeedbackLabel.NEGATIVE)  # day 3, kb other
    put_label(store, "b0000003", "2" * 32, None)  # the 👎 taken back
    put_label(store, "b0000001", "1" * 32, FeedbackLabel.NEGATIVE)  # 👍 turned to 👎
    late = {
        **EXPECTED,
        "disliked": 3,
        "disliked_q": ["b0000004", "b0000001", "b0000002"],
        "models": [(A, 4, 2, 0, 3), (B, 2, 0, 0, 0)],
    }
    assert figures(week(service)) == late
    assert figures(view(store)) == late
    assert {k: v for k, v in store.objects.items() if k.startswith(SUMMARIES)} == summaries
    assert figures(view(store, kb="default"))["disliked_q"] == ["b0000001", "b0000002"]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"\x00\xff not json", id="garbage"),
        pytest.param(lambda data: data.replace(b'"total":2', b'"total":9'), id="changed-count"),
        pytest.param(lambda data: data.replace(b'"slack":1', b'"slark":1'), id="changed-name"),
        pytest.param(lambda data: data.split(b"\n", 1)[1], id="no-header"),
        pytest.param(lambda data: data.replace(b'"format":1', b'"format":0'), id="old-format"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_a_damaged_summary_is_made_again(
    store: RecordingStore | UnversionedRecordingStore, damage: object
) -> None:
    """A summary that is damaged, or of another format, is detected and made again from the
    day's rows: the same figures, no error, and a sound summary stored in its place."""
    assert figures(view(store)) == EXPECTED
    key = summary_key(SEALED[0])
    assert callable(damage)
    store.objects[key] = damage(store.objects[key])
    assert figures(view(store)) == EXPECTED
    source = ""
    if isinstance(store, VersionedListing):
        source = dict(store.list_versions(shard_key(SEALED[0])))[shard_key(SEALED[0])]
    remade = summary_from_bytes(store.objects[key], day=SEALED[0], source=source)
    assert remade.ids == ["b0000001", "b0000002"]  # asked at the same time: by id


def test_a_summary_of_other_rows_is_stale(
    store: RecordingStore | UnversionedRecordingStore,
) -> None:
    """A summary copied from another day, or made from other rows than the day's stored ones
    (rebuilt since: an interaction written late into a sealed day, the day's rows deleted,
    then rebuilt by another reader), or whose rows are gone, is made again; damaged rows
    behind a damaged summary are rebuilt from the logs."""
    assert figures(view(store)) == EXPECTED
    running = DashboardService(LogAggregate(store, default_kb="default", today=lambda: DAY))
    assert figures(week(running)) == EXPECTED
    old, newer = SEALED
    store.objects[summary_key(old)] = store.objects[summary_key(newer)]
    assert figures(view(store)) == EXPECTED

    put_interaction(store, Seed("b0000007", 3, "slack", "Late [1].", ("z.md",), B))
    assert view(store).total == 6  # sealed: the day's rows are not listed again
    del store.objects[shard_key(newer)]
    gaps = LogAggregate(store, default_kb="default", today=lambda: DAY)
    assert len(gaps.rows(newer, newer)) == 3  # the rows rebuilt, with a new version
    # A store that lists no versions tells only that rows are gone, not that they changed.
    seen = 7 if isinstance(store, VersionedListing) else 6
    assert week(running).total == seen  # the same process notices it too
    late = figures(view(store))
    assert late["total"] == seen and (("z.md", 1) in late["pages"]) == (seen == 7)  # type: ignore[operator]

    put_interaction(store, Seed("b0000008", 5, "slack", "Later [1].", ("z.md",), B))
    del store.objects[shard_key(old)]
    assert view(store).total == seen + 1

    store.objects[shard_key(old)] = b"{broken"
    store.objects[summary_key(old)] = b"{broken"
    assert figures(view(store))["declined_q"] == ["b0000006", "b0000002"]
    assert view(store).total == seen + 1


def test_ties_rank_by_count_then_name() -> None:
    """Pages cited by as many questions rank by path, whichever was cited last; models with
    as many answers by name; both in the stored summaries and the open days."""
    store = VersionedMemoryObjectStore()
    seeds = [
        Seed("c0000001", 4, "web", "[1] [2]", ("z.md", "m.md"), "zeta"),
        Seed("c0000002", 4, "web", "[1]", ("a.md",), "alpha"),
        Seed("c0000003", 0, "web", "[1] [2] [3]", ("z.md", "m.md", "a.md"), "zeta"),
        Seed("c0000004", 0, "web", "[1]", ("k.md",), "alpha"),
    ]
    for seed in seeds:
        put_interaction(store, seed)
    for _ in range(2):  # the first view stores the summaries, the second reads them
        board = view(store)
        assert [(p.path, p.questions) for p in board.top_pages] == [
            ("a.md", 2), ("m.md", 2), ("z.md", 2), ("k.md", 1),
        ]  # fmt: skip
        assert [(m.model, m.answers) for m in board.models] == [("alpha", 2), ("zeta", 2)]
        assert [r.id for r in board.declined_questions] == []
