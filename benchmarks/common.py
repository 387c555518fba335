"""Shared pieces of the benchmarks: data paths, services on a scratch data dir, servers on
free loopback ports, timing."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np

from core.types import Chunk, ChunkKind
from ops.settings import EmbeddingSettings, Settings
from ops.wiring import Services, open_services_sync
from rag.ports import Embedder, Vectors
from rag.sources import SourceTree

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CORPORA = SHARED_DATA / "corpora"
DEV_QA = SHARED_DATA / "qa" / "fastapi_doc_qa_dev.jsonl"
BENCH_DIR = REPO_ROOT / ".bench"
HOST = "127.0.0.1"

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp


@dataclass(frozen=True, slots=True)
class QA:
    question: str
    answer_doc: str


def load_dev_set() -> list[QA]:
    rows = [json.loads(line) for line in DEV_QA.read_text().splitlines() if line.strip()]
    return [QA(r["question"], r["answer_doc"]) for r in rows]


_OPENED = contextlib.ExitStack()
atexit.register(_OPENED.close)


def services_at(data_dir: Path) -> Services:
    """Services on a scratch data dir, sharing one exported embedding model across runs;
    opened with open_services and closed when the benchmark process exits."""
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        embedding=EmbeddingSettings(cache_dir=BENCH_DIR / "models"),
    )
    return _OPENED.enter_context(open_services_sync(settings, "cli"))[0].services


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def fixed_chunks(text: str, size: int = 1200) -> list[str]:
    """The original prototype's chunking: fixed windows of `size` characters."""
    return [text[i : i + size] for i in range(0, len(text), size) if text[i : i + size].strip()]


def baseline_chunks(tree: SourceTree) -> list[Chunk]:
    """Every file in fixed 1,200-character windows, as the baselines index it."""
    chunks = []
    for f in tree.files:
        for n, text in enumerate(fixed_chunks(f.text)):
            digest = hashlib.sha256(f"{f.path}\0{n}".encode()).hexdigest()[:32]
            chunks.append(Chunk(digest, "fixed", f.path, f.path, text, 1, 1, "text", ChunkKind.DOC))
    return chunks


_MD_HEADING = re.compile(r"^#{1,6}\s+\S")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")
_FENCE_OPEN = re.compile(r"^\s*(```|~~~)")


def heading_sections(text: str, language: str) -> list[str]:
    """An off-the-shelf heading splitter: a Markdown (or reST) text cut before every
    heading, fenced code left whole; a section keeps its heading line."""
    lines = text.splitlines()
    starts = [0]
    fence: str | None = None
    for n, line in enumerate(lines):
        opened = _FENCE_OPEN.match(line)
        if fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
            continue
        if opened:
            fence = opened.group(1)
        elif language == "markdown" and _MD_HEADING.match(line):
            starts.append(n)
        elif (
            language == "rst"
            and n > 0
            and _RST_UNDERLINE.match(line)
            and lines[n - 1].strip()
            and len(line.rstrip()) >= len(lines[n - 1].rstrip())
        ):
            starts.append(n - 1)
    bounds = [*sorted(set(starts)), len(lines)]
    return [
        section for a, b in itertools.pairwise(bounds) if (section := "\n".join(lines[a:b])).strip()
    ]


def heading_chunks(tree: SourceTree) -> list[Chunk]:
    """The off-the-shelf hybrid's passages: Markdown and reST cut at headings (a long section
    in 1,200-character windows), every other file in fixed 1,200-character windows."""
    chunks = []
    for f in tree.files:
        language = {"md": "markdown", "rst": "rst"}.get(f.path.rsplit(".", 1)[-1].lower())
        pieces = (
            [w for s in heading_sections(f.text, language) for w in fixed_chunks(s)]
            if language
            else fixed_chunks(f.text)
        )
        for n, text in enumerate(pieces):
            digest = hashlib.sha256(f"{f.path}\0{n}".encode()).hexdigest()[:32]
            chunks.append(Chunk(digest, "heads", f.path, f.path, text, 1, 1, "text", ChunkKind.DOC))
    return chunks


def tree_digest(tree: SourceTree) -> str:
    """A digest of the files of a tree: their paths and contents."""
    digest = hashlib.sha256()
    for f in sorted(tree.files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.sha256}\n".encode())
    return digest.hexdigest()[:16]


def code_digest(*patterns: str, exclude: frozenset[str] | set[str] = frozenset()) -> str:
    """A digest of this repository's files matching the glob patterns (the code version),
    leaving out the repository-relative paths in `exclude`."""
    digest = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(REPO_ROOT.glob(pattern)):
            if path.relative_to(REPO_ROOT).as_posix() in exclude:
                continue
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class CachedEmbedder:
    """Implements rag.ports.Embedder: vectors of texts embedded before come from a file.

    Keyed by the text's digest and kept per embedder name under `folder`, so that a
    benchmark re-run after a change of chunking embeds only the passages that changed.
    Call `save` to write new vectors back.
    """

    def __init__(self, inner: Embedder, folder: Path) -> None:
        self._inner = inner
        self._file = folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", inner.name) + ".npz")
        self._vectors: dict[bytes, Vectors] = {}
        self._new = 0
        self.embedded = 0  # texts this object had to embed
        if self._file.exists():
            with np.load(self._file) as saved:
                self._vectors = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        keys = [hashlib.sha1(t.encode()).digest() for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items()
        )
        if missing:
            fresh = self._inner.embed([t for _, t in missing])
            self._vectors.update(zip((k for k, _ in missing), fresh, strict=True))
            self._new += len(missing)
            self.embedded += len(missing)
        if not keys:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._new:
            return
        self._file.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        partial = self._file.with_suffix(".tmp.npz")
        np.savez(
            partial,
            keys=np.array(keys, dtype="S20"),
            vectors=np.stack([self._vectors[k] for k in keys]),
        )
        partial.replace(self._file)
        self._new = 0


def free_port() -> int:
    """A loopback port that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(
    url: str, *, deadline_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Polls `url`/healthz until it answers 200; RuntimeError when `process` exits first or
    the deadline passes."""
    stop_at = time.monotonic() + deadline_s
    while time.monotonic() < stop_at:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} while starting")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} was not healthy after {deadline_s:.0f} s")


def start_serve(
    env: Mapping[str, str], *, deadline_s: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """`leximind serve` in a child process on a free port with these LEXIMIND_* settings (on
    top of this environment, logging at WARNING), once its /healthz answers 200."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "serve", "--port", str(port)],
        env={**os.environ, "LEXIMIND_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        wait_until_healthy(url, deadline_s=deadline_s, process=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url


def stop_serve(proc: subprocess.Popen[bytes], *, timeout: float = 30) -> None:
    """Stops a server started by start_serve (SIGTERM: uvicorn shuts down cleanly)."""
    proc.terminate()
    proc.wait(timeout=timeout)


def start_uvicorn(
    app: ASGIApp, *, deadline_s: float = 30, backlog: int = 2048
) -> tuple[uvicorn.Server, str]:
    """An ASGI app served by uvicorn in a daemon thread of this process on a free port; stop
    it with `server.should_exit = True`."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", backlog=backlog)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    stop_at = time.monotonic() + deadline_s
    while not server.started:
        if time.monotonic() > stop_at:
            raise RuntimeError(f"uvicorn did not start on port {port} in {deadline_s:.0f} s")
        time.sleep(0.05)
    return server, f"http://{HOST}:{port}"
