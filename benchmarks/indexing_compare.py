"""Whole-repository indexing, older code against this checkout in one run, and embedder variants.

    python -m benchmarks.indexing --repo [--slice N] [--commits 40d5ca4,3b80ba7]

Each commit's code is unpacked with `git archive` into a scratch folder (never into this
checkout) and indexes the repository in a fresh process (benchmarks/indexing_worker.py), as
does this checkout; the runs alternate with `--rounds`. Wall time and the process's CPU time
are both given: on a machine shared with other work the CPU time is the fairer comparison.
`--slice N` indexes one in N pages, the same pages in every language (so translations are
still recognised), and one in N other files, when the whole repository would take too long.

The embedder variants (length buckets, graph optimisation, threads) run in this process on
passages of the same repository, alternating, so each sees the same load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import BENCH_DIR, REPO_ROOT, SHARED_DATA
from ops.wiring import default_model_path
from rag.chunking import chunk_file
from rag.embedding import OnnxEmbedder
from rag.indexer import embedding_text
from rag.layout import read_layout
from rag.sources import read_tree

REPO = SHARED_DATA / "repos" / "fastapi"
WORKER = REPO_ROOT / "benchmarks" / "indexing_worker.py"
_LANGUAGE_DIR = re.compile(r"^docs/[a-z]{2}(?:-[a-z]+)?/")


def sliced_copy(repo: Path, into: Path, every: int) -> Path:
    """One in `every` files of `repo` under `into`; a page is kept in all its languages."""
    if every == 1:
        return repo
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if not path.is_file() or rel.startswith(".git/"):
            continue
        key = _LANGUAGE_DIR.sub("docs/", rel)
        if int(hashlib.sha1(key.encode()).hexdigest(), 16) % every:
            continue
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return into


def unpack(commit: str, into: Path) -> Path:
    """The code of `commit` as plain files, without touching this checkout."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    figures: dict[str, float]


def index_once(label: str, code: Path, repo: Path, scratch: Path) -> Run:
    """One full index by the code under `code`, in a process of its own."""
    data = Path(tempfile.mkdtemp(prefix="data-", dir=scratch))
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(WORKER), str(repo), str(data), str(BENCH_DIR / "models")],
        env=env,
        cwd=code,
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - started
    shutil.rmtree(data, ignore_errors=True)
    return Run(label, figures)


def compare_code(commits: Sequence[str], repo: Path, scratch: Path, rounds: int) -> list[Run]:
    """Full index runs of each commit's code and of this checkout, alternating."""
    codes = [(f"commit {c}", unpack(c, scratch / f"code-{c}")) for c in commits]
    codes.append(("this checkout", REPO_ROOT))
    runs = []
    for round_ in range(rounds):
        for label, code in codes if round_ % 2 == 0 else reversed(codes):
            run = index_once(label, code, repo, scratch)
            print(f"  {label}: {json.dumps(run.figures)} (load {os.getloadavg()[0]:.1f})")
            runs.append(run)
    return runs


def print_code_table(runs: Sequence[Run]) -> None:
    first = runs[0].figures
    print(
        "| code | wall s | CPU s | embedding s | chunks | passages/s (wall) "
        "| files indexed | left out | vs first (wall / CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        f = run.figures
        print(
            f"| {run.label} | {f['wall_s']:.1f} | {f['cpu_s']:.1f} | {f['embed_s']:.1f} "
            f"| {f['chunks']:,.0f} | {f['embedded'] / f['wall_s']:.1f} "
            f"| {f['files_indexed']:,.0f} | {f['files_left_out']:,.0f} "
            f"| {f['wall_s'] / first['wall_s']:.2f} / {f['cpu_s'] / first['cpu_s']:.2f} |"
        )


def repo_passages(repo: Path) -> list[str]:
    """The texts this checkout embeds for `repo`, in the indexer's order (file by file)."""
    tree = read_tree(repo, max_bytes=1_000_000)
    layout = read_layout(tree.files, languages=())
    return [
        embedding_text(c)
        for f in tree.files
        if f.path not in layout.left_out
        for c in chunk_file(kb="bench", path=f.path, text=f.text)
    ]


Calls = Callable[[OnnxEmbedder, list[str]], None]


def in_file_order(embedder: OnnxEmbedder, texts: list[str]) -> None:
    """The indexer before length ordering: calls of 256 passages in file order."""
    for start in range(0, len(texts), 256):
        embedder.embed(texts[start : start + 256])


def shortest_first(embedder: OnnxEmbedder, texts: list[str]) -> None:
    """The indexer now: distinct passages, shortest first, in calls of 256."""
    distinct = sorted(set(texts), key=lambda t: (len(t), t))
    for start in range(0, len(distinct), 256):
        embedder.embed(distinct[start : start + 256])


def embedder_variants(texts: list[str], rounds: int) -> list[tuple[str, float, float]]:
    """(variant, median wall s, median CPU s) for each embedder variant on the same texts."""
    cache = BENCH_DIR / "models"
    model = default_model_path()
    cores = len(os.sched_getaffinity(0))

    def make(**options: object) -> OnnxEmbedder:
        embedder = OnnxEmbedder(model_dir=model, cache_dir=cache, **options)  # type: ignore[arg-type]
        embedder.embed(["warm up"])
        return embedder

    variants: list[tuple[str, OnnxEmbedder, Calls]] = [
        ("no length buckets, file order", make(bucket=False), in_file_order),
        ("buckets within each call, file order", make(), in_file_order),
        ("distinct passages, shortest first", make(), shortest_first),
        ("  + graph optimisation basic", make(optimization="basic"), shortest_first),
        ("  + graph optimisation extended", make(optimization="extended"), shortest_first),
        ("  + graph optimisation disabled", make(optimization="disable"), shortest_first),
        ("  + 1 intra-op thread", make(threads=1), shortest_first),
        (f"  + {cores} intra-op, 2 inter-op threads", make(inter_threads=2), shortest_first),
    ]
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in variants}
    for round_ in range(rounds):
        for label, embedder, calls in variants if round_ % 2 == 0 else reversed(variants):
            wall, cpu = time.perf_counter(), time.process_time()
            calls(embedder, texts)
            times[label].append((time.perf_counter() - wall, time.process_time() - cpu))
    return [
        (label, statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
        for label, t in times.items()
    ]


def main(
    *, commits: Sequence[str], every: int, rounds: int, variant_rounds: int, sample: int
) -> None:
    print(f"load average at start: {os.getloadavg()}; {len(os.sched_getaffinity(0))} cores")
    with tempfile.TemporaryDirectory(prefix="leximind-bench-") as tmp:
        scratch = Path(tmp)
        repo = sliced_copy(REPO, scratch / "repo", every)
        print(f"repository: {REPO.name}, {'whole' if every == 1 else f'one file in {every}'}")
        runs = compare_code(commits, repo, scratch, rounds)
        print_code_table(runs)
        if variant_rounds < 1:
            print(f"load average at end: {os.getloadavg()}")
            return
        texts = repo_passages(repo)
        step = max(1, len(texts) // sample)
        picked = texts[::step][:sample]
        print(
            f"\nembedder variants on {len(picked)} of the {len(texts):,} passages "
            f"({len(set(texts)):,} distinct), median of {variant_rounds} alternating rounds "
            f"(load {os.getloadavg()[0]:.1f}):"
        )
        print("| variant | wall s | CPU s | passages/s (wall) |")
        print("|---|---|---|---|")
        for label, wall, cpu in embedder_variants(picked, variant_rounds):
            print(f"| {label} | {wall:.1f} | {cpu:.1f} | {len(picked) / wall:.1f} |")
    print(f"load average at end: {os.getloadavg()}")
