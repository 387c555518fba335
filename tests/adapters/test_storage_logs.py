"""Interaction and feedback logs over a store: layout, idempotence, latest wins, no raw ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from adapters.storage.logs import ObjectFeedbackLog, ObjectInteractionLog
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter
from core.privacy import hash_user_id
from core.types import Answer, Feedback, FeedbackLabel, Interaction, Question, Timings
from tests.fakes import MemoryObjectStore

KEY = b"test-user-hash-key"
ALICE = hash_user_id("slack", "U024BE7LH", key=KEY)
BOB = hash_user_id("slack", "U0G9QF9C6", key=KEY)


def interaction(
    iid: str = "a1b2", at: str = "2026-11-25T10:00:00.000+00:00", **question: object
) -> Interaction:
    answer = Answer(
        text="Use CORSMiddleware [1].",
        sources=(),
        confidence=0.8,
        abstained=False,
        model="extractive",
        extractive=True,
        timings=Timings(),
        interaction_id=iid,
    )
    q = Question(text="How do I enable CORS?", platform="slack", **question)  # type: ignore[arg-type]
    return Interaction(id=iid, created_at=at, question=q, answer=answer)


def feedback(
    label: FeedbackLabel | None, at: str, *, user: str = ALICE, iid: str = "i1"
) -> Feedback:
    return Feedback(
        interaction_id=iid,
        platform="slack",
        user_hash=user,
        emoji="+1" if label is FeedbackLabel.POSITIVE else "-1",
        label=label,
        created_at=at,
    )


def logs(store: LocalObjectStore | MemoryObjectStore, spool_dir: Path) -> SpooledWriter:
    return SpooledWriter(store, Spool(spool_dir), retry_after=0.0)


async def test_interaction_lands_under_its_day_once(tmp_path: Path) -> None:
    """interactions/YYYY/MM/DD/<id>.json holds the record; recording it again keeps one copy."""
    store = LocalObjectStore(tmp_path / "objects")
    log = ObjectInteractionLog(logs(store, tmp_path / "spool"))
    item = interaction(at="2026-11-25T23:30:00.000-02:00", user_hash=ALICE)

    await log.record(item)
    await log.record(item)

    assert list(store.list()) == ["interactions/2026/11/26/a1b2.json"]
    stored = json.loads(store.get("interactions/2026/11/26/a1b2.json"))
    assert stored == item.to_record()
    assert stored["question"]["user_hash"] == ALICE


async def test_latest_label_per_user_wins(tmp_path: Path) -> None:
    """Per (answer, user) the newest event counts, whatever order the events arrive in."""
    log = ObjectFeedbackLog(logs(LocalObjectStore(tmp_path / "o"), tmp_path / "spool"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z"))
    await log.record(feedback(FeedbackLabel.NEGATIVE, "2026-11-25T10:01:00Z"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:30Z"))  # late replay
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z", user=BOB))

    labels = {f.user_hash: f.label for f in await log.for_interaction("i1")}

    assert labels == {ALICE: FeedbackLabel.NEGATIVE, BOB: FeedbackLabel.POSITIVE}


async def test_times_with_different_offsets_compare_as_instants(tmp_path: Path) -> None:
    """10:30+02:00 is earlier than 09:00Z: the later instant wins, not the larger string."""
    log = ObjectFeedbackLog(logs(MemoryObjectStore(), tmp_path / "spool"))
    await log.record(feedback(FeedbackLabel.NEGATIVE, "2026-11-25T09:00:00Z"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:30:00+02:00"))

    assert [f.label for f in await log.for_interaction("i1")] == [FeedbackLabel.NEGATIVE]


async def test_removed_reaction_retracts_the_label(tmp_path: Path) -> None:
    """A later event with no label retracts the earlier one; the file stays as the record."""
    store = LocalObjectStore(tmp_path / "o")
    log = ObjectFeedbackLog(logs(store, tmp_path / "spool"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z"))
    await log.record(feedback(None, "2026-11-25T10:02:00Z"))

    assert await log.for_interaction("i1") == []
    assert await log.for_interaction("unknown") == []
    assert store.exists(f"feedback/i1/{ALICE}.json")


async def test_feedback_spooled_during_an_outage_is_replayed_latest_wins(tmp_path: Path) -> None:
    """An old event spooled while the store was down does not override a newer one on replay."""
    store = MemoryObjectStore()
    writer = logs(store, tmp_path / "spool")
    log = ObjectFeedbackLog(writer)
    store.down = True
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z", user=BOB))
    store.down = False

    await log.record(feedback(FeedbackLabel.NEGATIVE, "2026-11-25T10:05:00Z"))

    labels = {f.user_hash: f.label for f in await log.for_interaction("i1")}
    assert labels == {ALICE: FeedbackLabel.NEGATIVE, BOB: FeedbackLabel.POSITIVE}
    assert writer.spool.depth() == 0


async def test_interactions_spooled_during_an_outage_are_not_lost(tmp_path: Path) -> None:
    """record() succeeds while the store is down; drain() later stores each interaction once."""
    store = MemoryObjectStore()
    writer = logs(store, tmp_path / "spool")
    log = ObjectInteractionLog(writer)
    store.down = True
    for n in range(3):
        await log.record(interaction(iid=f"id{n}"))
        await log.record(interaction(iid=f"id{n}"))  # a retry of the same record
    store.down = False

    assert await writer.drain() == 6
    assert sorted(store.objects) == [f"interactions/2026/11/25/id{n}.json" for n in range(3)]


@pytest.mark.parametrize(
    "question",
    [
        {"user_hash": "U024BE7LH"},
        {"user_hash": "alice@example.com"},
        {"platform_refs": {"channel": "C1", "user": "U024BE7LH"}},
        {"platform_refs": {"issue_author": "octocat"}},
    ],
)
async def test_raw_user_ids_are_never_written(tmp_path: Path, question: dict[str, object]) -> None:
    """A user id that is not a keyed hash is refused before anything is stored or spooled."""
    store = MemoryObjectStore()
    writer = logs(store, tmp_path / "spool")
    with pytest.raises(ValueError, match="keyed hash") as refused:
        await ObjectInteractionLog(writer).record(interaction(**question))
    assert "U024BE7LH" not in str(refused.value) and "octocat" not in str(refused.value)
    assert store.objects == {} and writer.spool.depth() == 0


async def test_hashed_user_refs_are_accepted(tmp_path: Path) -> None:
    """Platform refs naming a user are fine when they hold the hash."""
    store = MemoryObjectStore()
    log = ObjectInteractionLog(logs(store, tmp_path / "spool"))
    await log.record(interaction(platform_refs={"channel": "C1", "user": ALICE}))
    assert len(store.objects) == 1


async def test_feedback_with_a_raw_user_id_or_bad_ids_is_refused(tmp_path: Path) -> None:
    """Feedback needs a hashed user, an interaction id usable as a key and a real time."""
    store = MemoryObjectStore()
    log = ObjectFeedbackLog(logs(store, tmp_path / "spool"))
    with pytest.raises(ValueError, match="keyed hash"):
        await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z", user="U1"))
    with pytest.raises(ValueError, match="interaction id"):
        await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z", iid="../x"))
    with pytest.raises(ValueError, match="no UTC offset"):
        await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00"))
    with pytest.raises(ValueError, match="interaction id"):
        await log.for_interaction("a/b")
    assert store.objects == {}


async def test_an_unreadable_feedback_file_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One corrupt record does not hide the others; it is reported in the log."""
    store = MemoryObjectStore()
    log = ObjectFeedbackLog(logs(store, tmp_path / "spool"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z"))
    store.objects[f"feedback/i1/{BOB}.json"] = b"{not json"

    assert [f.user_hash for f in await log.for_interaction("i1")] == [ALICE]
    assert "unreadable feedback record" in caplog.text


def test_feedback_round_trips_through_its_record() -> None:
    """Feedback.to_record and from_record are inverses, retractions included."""
    original = feedback(FeedbackLabel.NEGATIVE, "2026-11-25T10:00:00Z")
    assert Feedback.from_record(original.to_record()) == original
    retracted = feedback(None, "2026-11-25T10:00:00Z")
    assert Feedback.from_record(retracted.to_record()) == retracted
