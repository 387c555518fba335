"""One full index of a repository in a fresh process, printed as one JSON line.

    PYTHONPATH=<code root> python benchmarks/indexing_worker.py REPO DATA_DIR MODEL_CACHE

Run by `benchmarks.indexing` against this checkout and against an older commit's code (a
git worktree of it), so it uses only what both have: `ops.settings`, `ops.wiring` (or this
checkout's `open_services`) and `rag.sources.read_tree`. Variants of this checkout are
chosen by LEXIMIND_* variables.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The script's folder would shadow nothing the code imports, but keep the code root first.
sys.path.pop(0)

from ops.settings import EmbeddingSettings, Settings
from rag.sources import read_tree


def _services(settings: Settings) -> Any:
    """This checkout's services through `open_services` (closed at exit); an older
    commit's code, which has no `open_services`, through its `build_services`."""
    try:
        from ops.wiring import open_services_sync
    except ImportError:
        from ops.wiring import build_services  # type: ignore[attr-defined]

        return build_services(settings)
    import atexit
    import contextlib

    opened = contextlib.ExitStack()
    atexit.register(opened.close)
    return opened.enter_context(open_services_sync(settings, "cli"))[0].services


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds its `embed` calls take."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.seconds = 0.0
        self.passages = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed(self, texts: Sequence[str]) -> Any:
        started = time.perf_counter()
        vectors = self._inner.embed(texts)
        self.seconds += time.perf_counter() - started
        self.passages += len(texts)
        return vectors


def main(repo: Path, data: Path, models: Path) -> None:
    settings = Settings(
        _env_file=None, data_dir=data, embedding=EmbeddingSettings(cache_dir=models)
    )
    services = _services(settings)
    services.embedder.embed(["warm up"])  # loads the ONNX model outside the timing
    timed = TimedEmbedder(services.indexer._embedder)
    services.indexer._embedder = timed
    started, cpu = time.perf_counter(), time.process_time()
    tree = read_tree(repo, max_bytes=1_000_000)
    report = services.indexer.index(tree, kb="bench", source=str(repo))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    again = services.indexer.index(read_tree(repo, max_bytes=1_000_000), kb="bench", source="x")
    left_out = getattr(report, "left_out", {}) or {}
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "embed_s": timed.seconds,
                "files_indexed": report.files_indexed,
                "files_left_out": sum(left_out.values()),
                "chunks": report.chunks_total,
                "embedded": report.chunks_embedded,
                "texts_embedded": timed.passages,
                "rerun_s": again.seconds,
                "rerun_embedded": again.chunks_embedded,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
