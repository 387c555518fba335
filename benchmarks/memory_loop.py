"""The loop closed end to end, the third part of `python -m benchmarks.memory` (see there)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import CachedEmbedder, code_digest, services_at, tree_digest
from benchmarks.memory import EMBEDDINGS, KB, dev_questions
from core.memory import answer_entry_id
from core.types import Answer, Question
from ops.settings import Settings
from ops.wiring import Services

_log = logging.getLogger(__name__)


# The sections the services of `services_at` are built from (its defaults).
SETTINGS = Settings(_env_file=None)


def fastapi_services() -> Services:
    """Services over the whole FastAPI repository's index, built once per code version in
    the folder `benchmarks.retrieval` uses for it."""
    from benchmarks.retrieval import CACHE, INDEX_CODE, QUERY_ONLY, RUNS, build_tree
    from ops.wiring import build_indexer

    run = next(r for r in RUNS if r.name == "fastapi-repo")
    tree = build_tree(run)
    index_code = code_digest(*INDEX_CODE, exclude=QUERY_ONLY)
    folder = CACHE / f"{run.name}-leximind-{tree_digest(tree)}-{index_code}"
    ready = (folder / "READY").exists()
    if not ready and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    services = services_at(folder / "data")
    if not ready:
        cached = CachedEmbedder(services.embedder, EMBEDDINGS)
        indexer = build_indexer(
            SETTINGS.index, store=services.store, embedder=cached, catalog=services.catalog
        )
        started = time.perf_counter()
        report = indexer.index(tree, kb=KB, source=str(tree.root))
        cached.save()
        _log.warning(
            "indexed %s files into %s passages in %.0f s",
            report.files_indexed,
            report.chunks_total,
            time.perf_counter() - started,
        )
        (folder / "READY").write_text(json.dumps({"chunks": report.chunks_total}))
    return services


def _ask(services: Services, row: dict[str, Any]) -> Answer:
    """A dev question asked on GitHub, in the thread it came from."""
    repo, _, number = row["source"].removeprefix("https://github.com/").partition("/issues/")
    question = Question(
        text=row["question"],
        kb=KB,
        platform="github",
        platform_refs={"repo": repo, "issue": number},
    )
    return asyncio.run(services.answers.answer(question))


def _correction(row: dict[str, Any]) -> str:
    section = f", section \u201c{row['answer_section']}\u201d" if row.get("answer_section") else ""
    where = f" ({row['url_in_thread']})" if row.get("url_in_thread") else ""
    return f"This is documented in {row['answer_doc']}{section}{where}."


def loop(figures: dict[str, Any]) -> None:
    """FastAPI questions answered, wrong first sources corrected, every dev question again."""
    from ops.wiring.memory import build_curator

    started = time.perf_counter()
    services = fastapi_services()
    memory = services.memory
    assert memory is not None
    for old in memory.entries(KB):
        memory.forget(KB, old.id)
    curator = build_curator(SETTINGS, memory)
    sets = dev_questions()
    corrected: dict[str, str] = {}
    first: list[dict[str, Any]] = []
    for row in sets["fastapi"]:
        answer = _ask(services, row)
        top = answer.sources[0].chunk.path if answer.sources else ""
        first.append(
            {"question": row["question"], "first_source": top, "right": top == row["answer_doc"]}
        )
        if top == row["answer_doc"]:
            continue
        now = datetime.now(UTC).isoformat()
        record = {"interaction_id": answer.interaction_id, "answer": _correction(row)}
        record |= {"annotator": "maintainer", "created_at": now}
        services.object_store.put(
            f"corrections/{answer.interaction_id}.json", json.dumps(record).encode()
        )
        outcome = curator.reconsider(answer.interaction_id, near=datetime.now(UTC))
        assert outcome == "remembered", outcome
        corrected[row["question"]] = answer_entry_id(answer.interaction_id)
    again = []
    for name, rows in sets.items():
        for row in rows:
            hit = _ask(services, row).memory
            own = corrected.get(row["question"])
            again.append(
                {
                    "set": name,
                    "question": row["question"],
                    "corrected": own is not None,
                    "led_by": hit.entry.id if hit else None,
                    "led_by_question": hit.entry.question if hit else None,
                    "score": hit.score if hit else None,
                    "own": hit is not None and hit.entry.id == own,
                }
            )
    figures["loop"] = {
        "threshold": SETTINGS.memory.threshold,
        "first_pass": first,
        "corrections": len(corrected),
        "led_by_correction": sum(a["own"] for a in again if a["corrected"]),
        "captured_by_unrelated": sum(a["led_by"] is not None and not a["own"] for a in again),
        "asked_again": again,
        "seconds": round(time.perf_counter() - started, 1),
    }
    services.retriever.close()
