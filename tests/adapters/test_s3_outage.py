"""No record is lost or duplicated when the S3 server is killed and restarted mid-stream."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.storage.logs import ObjectFeedbackLog, ObjectInteractionLog
from adapters.storage.s3 import S3ObjectStore
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter
from core.object_keys import feedback_key, interaction_key
from core.privacy import hash_user_id
from core.types import Answer, Feedback, FeedbackLabel, Interaction, Question, Timings
from tests.support.seaweedfs import SeaweedServer

COUNT = 1000
KILL_AT, RESTART_AT = 300, 600
START = datetime(2026, 11, 20, tzinfo=UTC)


def at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat(timespec="milliseconds")


def make_interaction(n: int) -> Interaction:
    iid = f"{n:04d}" + "c0ffee" * 4
    user = hash_user_id("slack", f"U{n % 7}", key=b"outage-test")
    question = Question(text=f"question {n}?", platform="slack", user_hash=user)
    answer = Answer(
        text=f"answer {n} [1]",
        sources=(),
        confidence=0.5,
        abstained=False,
        model="extractive",
        extractive=True,
        timings=Timings(),
        interaction_id=iid,
    )
    return Interaction(id=iid, created_at=at(n * 10), question=question, answer=answer)


def feedback_events(item: Interaction, n: int) -> list[Feedback]:
    """A reaction; every 4th user changes their mind later; every 10th old event arrives late."""
    user = item.question.user_hash or ""

    def event(label: FeedbackLabel | None, minutes: float) -> Feedback:
        return Feedback(item.id, "slack", user, "x", label, at(n * 10 + minutes))

    events = [event(FeedbackLabel.POSITIVE, 1)]
    if n % 4 == 0:
        events.append(event(FeedbackLabel.NEGATIVE if n % 8 else None, 2))
    if n % 10 == 0:
        events.append(event(FeedbackLabel.POSITIVE, 0.5))  # older than the first, delivered last
    return events


def latest(events: list[Feedback]) -> Feedback:
    return max(events, key=lambda f: datetime.fromisoformat(f.created_at))


def chaos(server: SeaweedServer, kill: threading.Event, restart: threading.Event) -> None:
    """Kills the server (SIGKILL, mid-request) and restarts it on the same data folder."""
    kill.wait()
    server.kill()
    restart.wait()
    server.start()


async def test_killing_and_restarting_s3_mid_stream_loses_and_duplicates_nothing(
    own_seaweedfs: SeaweedServer, tmp_path: Path
) -> None:
    """1,000 interactions and their feedback written across a crash: each stored exactly once."""
    store = S3ObjectStore(
        endpoint=own_seaweedfs.endpoint,
        access_key=own_seaweedfs.access_key,
        secret_key=own_seaweedfs.secret_key,
        bucket="outage",
        secure=False,
        connect_timeout=1.0,
        read_timeout=5.0,
        retries=1,
    )
    writer = SpooledWriter(store, Spool(tmp_path / "spool"), replay_batch=50, retry_after=0.2)
    interactions, feedback = ObjectInteractionLog(writer), ObjectFeedbackLog(writer)
    kill, restart = threading.Event(), threading.Event()
    chaos_thread = threading.Thread(target=chaos, args=(own_seaweedfs, kill, restart))
    chaos_thread.start()

    expected_interactions: dict[str, Interaction] = {}
    expected_feedback: dict[str, Feedback] = {}
    deepest_spool = 0
    try:
        for n in range(COUNT):
            if n == KILL_AT:
                kill.set()
            if n == RESTART_AT:
                restart.set()
            item = make_interaction(n)
            await interactions.record(item)
            events = feedback_events(item, n)
            for event in events:
                await feedback.record(event)
            expected_interactions[interaction_key(item.id, item.created_at)] = item
            expected_feedback[feedback_key(item.id, events[0].user_hash)] = latest(events)
            deepest_spool = max(deepest_spool, writer.spool.depth())
    finally:
        kill.set()
        restart.set()
        chaos_thread.join()

    assert own_seaweedfs.restarts == 2 and own_seaweedfs.is_running()
    assert deepest_spool > 0, "the outage should have sent records to the spool"
    while await writer.drain():
        pass
    assert writer.spool.depth() == 0 and writer.spool.rejected() == 0

    assert list(store.list("interactions/")) == sorted(expected_interactions)
    assert list(store.list("feedback/")) == sorted(expected_feedback)
    assert sorted(store.list()) == sorted([*expected_interactions, *expected_feedback])
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = [*expected_interactions, *expected_feedback]
        stored = dict(zip(keys, pool.map(store.get, keys), strict=True))
    for key, item in expected_interactions.items():
        assert json.loads(stored[key]) == item.to_record()
    for key, event in expected_feedback.items():
        assert Feedback.from_record(json.loads(stored[key])) == event
