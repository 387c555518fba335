"""Retrieval quality on real questions: each dev set against its curated corpus and its whole
repository, Leximind against three baselines, hit@5 and MRR@10.

    python -m benchmarks.retrieval                 # every run
    python -m benchmarks.retrieval --only fastapi-repo,own-repo
    python -m benchmarks.retrieval --write-docs    # and update docs/benchmarks.md

Dev sets (../shared/data/qa/): FastAPI (15), httpx (6), requests (5) real user questions, each
with the file a maintainer pointed to, and the questions about this repository of
benchmarks/own_repo.py (the first is `make demo`'s). Extra sets (benchmarks/qa_extra/, see its
SOURCES.md): more real questions of the same kind, for measuring only (nothing is tuned or
calibrated on them), asked of the whole repositories as fastapi-extra, httpx-extra and
requests-extra, which reuse the index of fastapi-repo, httpx-repo and requests-repo. Tuning
sets (benchmarks/qa_tune/, gathered the same way on 2026-12-04): dev questions of our own,
asked as fastapi-tune, httpx-tune and requests-tune over the same indexes, on which settings
may be chosen as on the shared dev sets. Sdist sets (benchmarks/qa_sdist/, gathered on
2026-12-04): questions about attrs, click, Flask and Starlette, projects no ranking code was
written for, asked as attrs-sdist, click-sdist, flask-sdist and starlette-sdist of each
release's whole source distribution (pinned in `SDIST_RELEASES`, fetched with pip into
.bench/sdists/ on first use; a run whose sdist cannot be fetched is skipped); settings may be
chosen on them too. Corpora:

- fastapi-curated: ../shared/data/corpora (FastAPI's English docs, tiangolo.com, the
  contributing history); fastapi-repo: the whole repository (repos/fastapi: 13 languages,
  docs_src/, package, tests) with corpora/tiangolo.com and the contributing history beside it.
- httpx-curated, requests-curated: the repository's docs folder, README and package source
  (no tests, scripts, changelog or CI); httpx-repo, requests-repo: the whole repository.
- own-repo: this repository, as `leximind index .` reads it.

Retrievers, all ranking pages (a file counts once, at its best passage):

- Leximind: the default pipeline (ops.wiring), indexing as `leximind index` does.
- BM25 over fixed 1,200-character chunks (LanceDB full text), and dense MiniLM over the
  same chunks (sentence-transformers on torch: the original prototype).
- An off-the-shelf hybrid: Markdown and reST cut at headings (other files in fixed
  chunks), BM25 and MiniLM fused by reciprocal rank (k=60).

Built indexes are kept under .bench/retrieval/ per (corpus, code version), and every
embedding per (model, text) under .bench/embeddings/, so a re-run after a change embeds only
what changed. Per-question results go to .bench/retrieval/last_run.json (the input of
`python -m benchmarks.calibration`, which publishes the reliability of the confidence).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import (
    BENCH_DIR,
    CORPORA,
    REPO_ROOT,
    SHARED_DATA,
    CachedEmbedder,
    baseline_chunks,
    code_digest,
    heading_chunks,
    services_at,
    tree_digest,
)
from benchmarks.own_repo import QUESTIONS as OWN_QUESTIONS
from benchmarks.sdists import Sdist, SdistUnavailable
from core.confidence import features
from core.types import Chunk
from ops.settings import IndexSettings
from ops.wiring import Services, build_indexer, default_model_path
from rag.embedding import OnnxEmbedder, SentenceTransformerEmbedder
from rag.ports import Embedder
from rag.retrieval import reciprocal_rank_fusion
from rag.sources import SourceFile, SourceTree, read_tree
from rag.stores.lancedb import LanceDBStore

REPOS = SHARED_DATA / "repos"
QA_DIR = SHARED_DATA / "qa"
CACHE = BENCH_DIR / "retrieval"
EMBEDDINGS = BENCH_DIR / "embeddings"
LAST_RUN = CACHE / "last_run.json"
DOCS = REPO_ROOT / "docs" / "benchmarks.md"
MAX_BYTES = 10**6
KB = "bench"
CANDIDATES = 100

# What the index depends on: chunking, indexing, embedding, stores and their settings. The
# ranking code (retrieval, links) is read at query time and needs no new index.
INDEX_CODE = ("rag/**/*.py", "core/types.py", "ops/settings/**/*.py", "ops/wiring/**/*.py")
QUERY_ONLY = {"rag/retrieval.py", "rag/links.py", "rag/intent.py"}
BASELINE_CODE = ("benchmarks/common.py",)
BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))


@dataclass(frozen=True, slots=True)
class Case:
    """A question and the files that answer it (paths relative to the corpus root)."""

    question: str
    answers: frozenset[str]


@dataclass(frozen=True, slots=True)
class Part:
    """Files of `folder` put under `prefix` in a corpus, only those `keep` accepts."""

    folder: Path | Sdist  # a folder, or a pinned release's sdist (fetched on first use)
    prefix: str = ""
    keep: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """One dev set against one corpus."""

    name: str
    dev: str
    parts: tuple[Part, ...]
    corpus: str = ""  # the run whose corpus and indexes this one shares; itself when empty

    @property
    def index_name(self) -> str:
        return self.corpus or self.name


def _curated(*prefixes: str) -> Callable[[str], bool]:
    return lambda path: path.startswith(prefixes)


FASTAPI_REPO = (
    Part(REPOS / "fastapi", "fastapi/"),
    Part(CORPORA / "tiangolo.com", "tiangolo.com/"),
    Part(CORPORA / "fastapi_contributing_history", "fastapi_contributing_history/"),
)
HTTPX_REPO = (Part(REPOS / "httpx", "httpx/"),)
REQUESTS_REPO = (Part(REPOS / "requests", "requests/"),)
# Releases no ranking code was written for, whole as their sdists ship them (docs, source,
# tests, examples, changelog), each with questions of its own (benchmarks/qa_sdist).
SDIST_RELEASES = {
    "attrs": Sdist(
        "attrs", "26.1.0", "d03ceb89cb322a8fd706d4fb91940737b6642aa36998fe130a9bc96c985eff32"
    ),
    "click": Sdist(
        "click", "8.1.7", "ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de"
    ),
    "flask": Sdist(
        "flask", "3.0.3", "ceb27b0af3823ea2737928a4d99d125a06175b8512c445cbd9a9ce200ef76842"
    ),
    "starlette": Sdist(
        "starlette", "1.10.0", "b8399098d4c1e3522734f7235dc79b1fc967f96cf139c81e0fa30479e0685f9b"
    ),
}

RUNS = (
    Run("fastapi-curated", "fastapi", (Part(CORPORA),)),
    Run("fastapi-repo", "fastapi", FASTAPI_REPO),
    Run(
        "httpx-curated",
        "httpx",
        (Part(REPOS / "httpx", "httpx/", _curated("docs/", "httpx/", "README.md")),),
    ),
    Run("httpx-repo", "httpx", HTTPX_REPO),
    Run(
        "requests-curated",
        "requests",
        (Part(REPOS / "requests", "requests/", _curated("docs/", "src/", "README.md")),),
    ),
    Run("requests-repo", "requests", REQUESTS_REPO),
    Run("own-repo", "own", (Part(REPO_ROOT),)),
    Run("fastapi-extra", "fastapi-extra", FASTAPI_REPO, corpus="fastapi-repo"),
    Run("httpx-extra", "httpx-extra", HTTPX_REPO, corpus="httpx-repo"),
    Run("requests-extra", "requests-extra", REQUESTS_REPO, corpus="requests-repo"),
    Run("fastapi-tune", "fastapi-tune", FASTAPI_REPO, corpus="fastapi-repo"),
    Run("httpx-tune", "httpx-tune", HTTPX_REPO, corpus="httpx-repo"),
    Run("requests-tune", "requests-tune", REQUESTS_REPO, corpus="requests-repo"),
    *(
        Run(f"{name}-sdist", f"{name}-sdist", (Part(release, f"{name}/"),))
        for name, release in SDIST_RELEASES.items()
    ),
)

QA_EXTRA = REPO_ROOT / "benchmarks" / "qa_extra"
QA_TUNE = REPO_ROOT / "benchmarks" / "qa_tune"
QA_SDIST = REPO_ROOT / "benchmarks" / "qa_sdist"
DEV_FILES = {
    "fastapi": QA_DIR / "fastapi_doc_qa_dev.jsonl",
    "httpx": QA_DIR / "httpx_qa_dev.jsonl",
    "requests": QA_DIR / "requests_qa_dev.jsonl",
    "fastapi-extra": QA_EXTRA / "fastapi_qa_extra.jsonl",
    "httpx-extra": QA_EXTRA / "httpx_qa_extra.jsonl",
    "requests-extra": QA_EXTRA / "requests_qa_extra.jsonl",
    "fastapi-tune": QA_TUNE / "fastapi_qa_tune.jsonl",
    "httpx-tune": QA_TUNE / "httpx_qa_tune.jsonl",
    "requests-tune": QA_TUNE / "requests_qa_tune.jsonl",
    **{f"{name}-sdist": QA_SDIST / f"{name}_qa_sdist.jsonl" for name in SDIST_RELEASES},
}
# Dev sets for measuring only: the confidence calibration never fits on them.
MEASURE_ONLY = frozenset({"fastapi-extra", "httpx-extra", "requests-extra"})
# Dev sets added to choose settings on, beside the shared ones (benchmarks/qa_tune).
TUNING = frozenset({"fastapi-tune", "httpx-tune", "requests-tune"})
# Dev sets on the sdists of other projects (benchmarks/qa_sdist), for choosing settings too.
SDIST_SETS = frozenset(f"{name}-sdist" for name in SDIST_RELEASES)

SYSTEMS = ("Leximind", "BM25, fixed chunks", "dense MiniLM, fixed chunks", "hybrid, heading chunks")

OFF_TOPIC = [
    "What is a good recipe for sourdough bread?",
    "Who won the football world cup in 1998?",
    "How do I change a flat tire on a bicycle?",
    "What is the capital of Australia?",
    "Recommend a good science fiction novel",
    "How tall is Mount Everest?",
    "What's the weather like in Paris today?",
    "How do I knit a scarf?",
]


def load_cases(dev: str) -> list[Case]:
    if dev == "own":
        return [Case(q, frozenset(wanted)) for q, wanted in OWN_QUESTIONS]
    rows = DEV_FILES[dev].read_text().splitlines()
    return [
        Case(r["question"], frozenset({r["answer_doc"]}))
        for r in (json.loads(line) for line in rows if line.strip())
    ]


def build_tree(run: Run) -> SourceTree:
    """The corpus of a run as one tree, its parts under their prefixes."""
    merged: SourceTree | None = None
    for part in run.parts:
        folder = part.folder.unpacked() if isinstance(part.folder, Sdist) else part.folder
        tree = read_tree(folder, max_bytes=MAX_BYTES)
        files = [
            SourceFile(part.prefix + f.path, f.text, f.sha256)
            for f in tree.files
            if part.keep is None or part.keep(f.path)
        ]
        if merged is None:
            merged = SourceTree(root=tree.root, commit=tree.commit, web_url=tree.web_url)
        merged.files.extend(files)
        for reason, paths in tree.skipped.items():
            merged.skipped.setdefault(reason, []).extend(part.prefix + p for p in paths)
    assert merged is not None
    return merged


def rank_of(paths: Sequence[str], wanted: frozenset[str]) -> int | None:
    """1-based rank of the first page that answers."""
    return next((n for n, p in enumerate(paths, start=1) if p in wanted), None)


def pages(paths: Sequence[str], k: int = 10) -> list[str]:
    """The distinct pages of ranked passages, best first."""
    return list(dict.fromkeys(paths))[:k]


@dataclass(slots=True)
class Outcome:
    """One question's result for one retriever on one corpus."""

    run: str
    system: str
    question: str
    rank: int | None
    first: str
    top_score: float | None = None
    confidence: float | None = None
    features: tuple[float, ...] | None = None  # core.confidence.features of the answer


@dataclass(slots=True)
class Figures:
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def score(self, run: str, system: str) -> tuple[float, float, int] | None:
        rows = [o for o in self.outcomes if o.run == run and o.system == system]
        if not rows:
            return None
        hit = sum(o.rank is not None and o.rank <= 5 for o in rows) / len(rows)
        mrr = sum(1 / o.rank for o in rows if o.rank) / len(rows)
        return hit, mrr, len(rows)


def _embedders(kind: str) -> dict[str, Embedder]:
    """The baselines' MiniLM: torch as the prototype had it, unless asked otherwise."""
    if kind == "torch":
        return {"dense": SentenceTransformerEmbedder(model_dir=default_model_path())}
    return {
        "dense": OnnxEmbedder(
            model_dir=default_model_path(),
            cache_dir=BENCH_DIR / "models",
            quantize=kind == "onnx-int8",
        )
    }


def _ready(folder: Path) -> bool:
    return (folder / "READY").exists()


def _fresh(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def indexed(run: Run, tree: SourceTree, notes: list[str]) -> Services:
    """Services over the corpus indexed as `leximind index` does, built once per code
    version under .bench/retrieval/ and reused while only query-time code changes."""
    index_code = code_digest(*INDEX_CODE, exclude=QUERY_ONLY)
    folder = CACHE / f"{run.index_name}-leximind-{tree_digest(tree)}-{index_code}"
    if not _ready(folder):
        _fresh(folder)
    services = services_at(folder / "data")
    if not _ready(folder):
        cached = CachedEmbedder(services.embedder, EMBEDDINGS)
        indexer = build_indexer(
            IndexSettings(), store=services.store, embedder=cached, catalog=services.catalog
        )
        started = time.perf_counter()
        report = indexer.index(tree, kb=KB, source=str(tree.root))
        cached.save()
        notes.append(
            f"{run.name}: Leximind indexed {report.files_indexed} files into "
            f"{report.chunks_total} passages in {time.perf_counter() - started:.0f} s "
            f"({report.chunks_embedded - cached.embedded} of them from the embedding cache)"
        )
        (folder / "READY").write_text(json.dumps({"chunks": report.chunks_total}))
    return services


def leximind(run: Run, tree: SourceTree, cases: list[Case], figures: Figures) -> None:
    """Indexes the corpus (or takes the cached index) and asks."""
    services = indexed(run, tree, figures.notes)
    try:
        _ask_leximind(run, services, cases, figures)
    finally:
        services.retriever.close()


def _ask_leximind(run: Run, services: Services, cases: list[Case], figures: Figures) -> None:
    threshold = services.answers.policy.min_relevance
    for case in cases:
        found = asyncio.run(services.retriever.search(case.question, kb=KB, k=10))
        paths = [s.path for s in found]
        outcome = Outcome(
            run.name,
            SYSTEMS[0],
            case.question,
            rank_of(paths, case.answers),
            paths[0] if paths else "",
            top_score=max((s.score for s in found[:5]), default=0.0),
            confidence=services.answers.confidence(found[:5]),
            features=features(found[:5]),
        )
        figures.outcomes.append(outcome)
        if outcome.rank != 1:
            print(f"  {run.name} rank {outcome.rank}: {case.question[:60]!r}")
            for n, source in enumerate(found[:5], start=1):
                role = source.chunk.role.value or "?"
                print(f"      {n}. {source.score:.2f} [{role}] {source.path} · {source.title[:50]}")
    declined = 0
    for question in OFF_TOPIC:
        found = asyncio.run(services.retriever.search(question, kb=KB, k=5))
        declined += max((s.score for s in found), default=0.0) < threshold
    figures.notes.append(
        f"{run.name}: {declined}/{len(OFF_TOPIC)} off-topic questions declined "
        f"at min_relevance {threshold}"
    )


def _baseline_store(
    folder: Path, chunks: list[Chunk], embedder: CachedEmbedder
) -> tuple[LanceDBStore, float]:
    """A LanceDB table of the chunks and their vectors, built once per folder."""
    started = time.perf_counter()
    if not _ready(folder):
        _fresh(folder)
        vectors = embedder.embed([c.text for c in chunks])
        store = LanceDBStore(folder / "lance", dimension=vectors.shape[1])
        for start in range(0, len(chunks), 1024):
            store.upsert(chunks[start : start + 1024], vectors[start : start + 1024])
        store.optimize()
        embedder.save()
        (folder / "READY").write_text(json.dumps({"chunks": len(chunks)}))
    return LanceDBStore(folder / "lance"), time.perf_counter() - started


def baselines(
    run: Run,
    tree: SourceTree,
    cases: list[Case],
    figures: Figures,
    embedder: CachedEmbedder,
    *,
    cached_only: bool = False,
) -> None:
    """BM25 and dense over fixed chunks, and the heading-chunk RRF hybrid; with
    `cached_only`, only those whose index an earlier run built."""
    version = f"{tree_digest(tree)}-{code_digest(*BASELINE_CODE)}-{embedder.name}"
    version = version.replace("/", "_").replace(":", "_")
    questions = [c.question for c in cases]
    query_vectors = embedder.embed(questions)
    for label, chunker in (("fixed", baseline_chunks), ("heads", heading_chunks)):
        folder = CACHE / f"{run.index_name}-{label}-{version}"
        if cached_only and not _ready(folder):
            figures.notes.append(
                f"{run.name}: {label}-chunk baselines not built (--cached-baselines)"
            )
            continue
        chunks = chunker(tree)
        kb = chunks[0].kb if chunks else label
        store, seconds = _baseline_store(folder, chunks, embedder)
        figures.notes.append(f"{run.name}: {len(chunks)} {label} chunks ready in {seconds:.0f} s")
        for case, vector in zip(cases, query_vectors, strict=True):
            keyword = [c for c, _ in store.keyword_search(kb, case.question, k=CANDIDATES)]
            dense = [c for c, _ in store.vector_search(kb, vector, k=CANDIDATES)]
            if label == "fixed":
                ranked = {
                    SYSTEMS[1]: [c.path for c in keyword],
                    SYSTEMS[2]: [c.path for c in dense],
                }
            else:
                path_of = {c.id: c.path for c in [*keyword, *dense]}
                fused = reciprocal_rank_fusion(
                    [([c.id for c in dense], 1.0), ([c.id for c in keyword], 1.0)], rrf_k=60
                )
                ranked = {SYSTEMS[3]: [path_of[i] for i, _ in fused]}
            for system, hits in ranked.items():
                paths = pages(hits)
                figures.outcomes.append(
                    Outcome(
                        run.name,
                        system,
                        case.question,
                        rank_of(paths, case.answers),
                        paths[0] if paths else "",
                    )
                )


def table(figures: Figures, runs: Sequence[Run]) -> list[str]:
    """The figures as a Markdown table: one row per corpus, hit@5 / MRR@10 per retriever."""
    lines = [
        "| dev set / corpus | questions | " + " | ".join(SYSTEMS) + " |",
        "|---|---:|" + "---|" * len(SYSTEMS),
    ]
    for run in runs:
        cells, count = [], 0
        for system in SYSTEMS:
            got = figures.score(run.name, system)
            if got is None:
                cells.append("–")
                continue
            hit, mrr, count = got
            cells.append(f"{hit:.3f} / {mrr:.3f}")
        lines.append(f"| {run.name} | {count} | " + " | ".join(cells) + " |")
    return lines


def write_docs(command: str, figures: Figures, runs: Sequence[Run], embedder: str) -> None:
    """Replaces the command line and the table of the Retrieval section of
    docs/benchmarks.md with these figures. The text after the table, the team's reading of
    the figures, is kept for a person to revise (the run's notes are printed, not written)."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = "\n".join(
        [
            "## Retrieval",
            "",
            f"`{command}`, {date}. hit@5 / MRR@10 of the first page that answers; every "
            "retriever ranks pages (a file counts once, at its best passage). Baselines' MiniLM: "
            f"{embedder}. Dev sets and corpora: see the docstring of `benchmarks/retrieval.py`.",
            "",
            *table(figures, runs),
            "",
        ]
    )
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    print(f"{DOCS.name}: Retrieval table updated; revise the text below it by hand")
    DOCS.write_text(replace_retrieval_table(text, head))


def replace_retrieval_table(text: str, head: str) -> str:
    """`text` with its Retrieval section's opening and table replaced by `head`; the rest of
    the section and of the document stay as they were."""
    start = text.find("\n## Retrieval\n")
    if start == -1:
        return text.rstrip("\n") + "\n\n" + head
    end = text.find("\n## ", start + 1)
    section = text[start + 1 : end + 1] if end != -1 else text[start + 1 :]
    lines = section.split("\n")
    row = next((n for n, line in enumerate(lines) if line.startswith("|")), len(lines))
    while row < len(lines) and lines[row].startswith("|"):
        row += 1
    rest = "\n".join(lines[row:]).lstrip("\n")
    kept = head + ("\n" + rest if rest else "")
    return text[: start + 1] + kept + (text[end + 1 :] if end != -1 else "")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.retrieval")
    parser.add_argument("--only", help="comma-separated runs: " + ", ".join(r.name for r in RUNS))
    parser.add_argument("--no-baselines", action="store_true", help="Leximind only")
    parser.add_argument("--baselines-only", action="store_true", help="no Leximind")
    parser.add_argument(
        "--baseline-embedder",
        choices=("torch", "onnx-fp32", "onnx-int8"),
        default="torch",
        help="the baselines' MiniLM runtime (torch: the original prototype)",
    )
    parser.add_argument(
        "--cached-baselines",
        action="store_true",
        help="baselines only where an earlier run built their index (a busy machine)",
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else None
    if wanted is not None and (unknown := wanted - {r.name for r in RUNS}):
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")
    runs = [r for r in RUNS if wanted is None or r.name in wanted]
    figures = Figures()
    embedder = None
    if not args.no_baselines:
        embedder = CachedEmbedder(_embedders(args.baseline_embedder)["dense"], EMBEDDINGS)
    for run in runs:
        started = time.perf_counter()
        try:
            tree = build_tree(run)
        except SdistUnavailable as error:
            figures.notes.append(f"{run.name}: skipped, its sdist is unavailable ({error})")
            print(f"{run.name}: skipped ({error})")
            continue
        cases = load_cases(run.dev)
        if not args.baselines_only:
            leximind(run, tree, cases, figures)
        if embedder is not None:
            baselines(run, tree, cases, figures, embedder, cached_only=args.cached_baselines)
        print(f"{run.name}: {len(tree.files)} files, done in {time.perf_counter() - started:.0f} s")
    print()
    for note in figures.notes:
        print(note)
    print()
    print("\n".join(table(figures, runs)))
    CACHE.mkdir(parents=True, exist_ok=True)
    LAST_RUN.write_text(json.dumps([asdict(o) for o in figures.outcomes], indent=1))
    if args.write_docs:
        command = (
            "python -m benchmarks.retrieval"
            + (f" --only {args.only}" if args.only else "")
            + (" --cached-baselines" if args.cached_baselines else "")
            + (f" --baseline-embedder {args.baseline_embedder}" if embedder else " --no-baselines")
        )
        write_docs(command, figures, runs, args.baseline_embedder)


if __name__ == "__main__":
    main()
