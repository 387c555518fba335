"""How long /admin's figures take over 100,000 interactions: cold, and warm on the aggregate.

    python -m benchmarks.dashboard [--count 100000] [--days 30] [--fresh]

Writes `count` interactions (spread over the `days` up to today, UTC, from every surface, a
tenth declined, three cited passages each) and a feedback label on every tenth into the
on-disk object store of the embedded defaults (LocalObjectStore), under .bench/dashboard;
they are kept for the next run (`--fresh` writes them again). Then it times the dashboard of
the whole period (DashboardService plus the SVG charts) three ways:

- cold: no aggregate yet, so every interaction and label object is read;
- warm, new process: the aggregate saved by the cold run (a sealed day is read as its
  summary, one object; only the last days and the feedback are listed again);
- warm, same process: a second view with the aggregate in memory.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.storage.local import LocalObjectStore
from benchmarks.common import BENCH_DIR
from core.object_keys import ANALYTICS, feedback_key, interaction_key
from core.types import (
    Answer,
    Chunk,
    ChunkKind,
    Feedback,
    FeedbackLabel,
    Interaction,
    Question,
    Source,
    Timings,
)
from web.analytics import SURFACES, Dashboard, DashboardService, LogAggregate
from web.charts import share_bars, stacked_days

PAGES = [f"docs/guide/page{n:02d}.md" for n in range(40)]
PASSAGE = "Configure the application with the settings file, then restart the server. " * 6


def interaction(n: int, at: datetime, rng: random.Random) -> Interaction:
    sources = tuple(
        Source(
            Chunk(f"{n}-{k}", "docs", path, "Section", PASSAGE, 1, 30, "markdown", ChunkKind.DOC),
            0.7,
            f"https://example.org/{path}",
        )
        for k, path in enumerate(rng.sample(PAGES, 3))
    )
    declined = n % 10 == 0
    answer = Answer(
        text="I don't know." if declined else "Set it in the settings file [1], then [2].",
        sources=sources,
        confidence=0.2 if declined else 0.8,
        abstained=declined,
        model="extractive" if declined else "adapter-v1",
        extractive=declined,
        timings=Timings(0.01, 0.2, 0.21),
        interaction_id=f"{n:032x}",
        routed_model="adapter-v2" if n % 5 == 0 else "adapter-v1",
    )
    question = Question(
        f"How do I configure option {n % 500}?", platform=SURFACES[n % len(SURFACES)]
    )
    return Interaction(f"{n:032x}", at.isoformat(), question, answer)


def write_logs(root: Path, *, count: int, days: int) -> None:
    """`count` interactions over the `days` up to now, a label on every tenth, written as the
    local store lays them out (without its fsync per object, which would take most of the run)."""

    def put(key: str, value: dict[str, object]) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(json.dumps(value).encode())

    rng = random.Random(7)
    now = datetime.now(UTC)
    first = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
    span = (now - first).total_seconds()
    for n in range(count):
        at = first + timedelta(seconds=span * n / max(count - 1, 1))
        record = interaction(n, at, rng).to_record()
        put(interaction_key(record["id"], record["created_at"]), record)
        if n % 10 == 3:
            label = FeedbackLabel.NEGATIVE if n % 20 == 3 else FeedbackLabel.POSITIVE
            user = f"{n:040x}"
            fb = Feedback(record["id"], "web", user, "👍", label, at.isoformat())
            put(feedback_key(record["id"], user), fb.to_record())


def view(service: DashboardService, days: int) -> tuple[str, Dashboard]:
    """Wall and CPU seconds to compute the dashboard of the last `days` and draw its charts."""
    end = datetime.now(UTC).date()
    started, cpu = time.perf_counter(), time.process_time()
    board = service.dashboard(start=end - timedelta(days=days - 1), end=end, kb=None)
    stacked_days(board.per_day, SURFACES)
    share_bars([(p.path, p.share) for p in board.top_pages])
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    return f"{wall:8.3f} s wall, {used:7.3f} s CPU", board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--fresh", action="store_true", help="write the logs again")
    parser.add_argument(
        "--warm-only", action="store_true", help="keep the saved aggregate, skip the cold view"
    )
    args = parser.parse_args()

    root = BENCH_DIR / "dashboard"
    marker = root / f"written-{args.count}-{args.days}.txt"
    objects = root / "objects"
    if (
        args.fresh
        or not marker.exists()
        or marker.read_text() != datetime.now(UTC).date().isoformat()
    ):
        shutil.rmtree(root, ignore_errors=True)
        objects.mkdir(parents=True)
        started = time.perf_counter()
        write_logs(objects, count=args.count, days=args.days)
        marker.write_text(datetime.now(UTC).date().isoformat())
        print(f"wrote {args.count} interactions in {time.perf_counter() - started:.0f} s")
    if not args.warm_only:
        shutil.rmtree(objects / ANALYTICS.rstrip("/"), ignore_errors=True)

    def fresh_service() -> DashboardService:
        return DashboardService(LogAggregate(LocalObjectStore(objects), default_kb="docs"))

    cold_s, board = ("(skipped)", None) if args.warm_only else view(fresh_service(), args.days)
    warm_new_s, board = view(fresh_service(), args.days)
    service = fresh_service()
    view(service, args.days)
    warm_same_s, again = view(service, args.days)
    assert again.total == board.total == args.count, (board.total, args.count)
    print(f"{board.total} interactions over {args.days} days, {board.disliked} disliked")
    print(f"cold (no aggregate):           {cold_s}")
    print(f"warm, new process (aggregate): {warm_new_s}")
    print(f"warm, same process:            {warm_same_s}")


if __name__ == "__main__":
    main()
