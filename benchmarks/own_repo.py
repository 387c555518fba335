"""A sanity check away from the FastAPI dev set: questions about Leximind's own repository.

    python -m benchmarks.own_repo

Indexes this repository (docs and code, as `leximind index .` would; the index is the
`own-repo` one of `benchmarks.retrieval`, cached under .bench/retrieval/) and asks questions
a newcomer to it might ask, each with the files that answer it. Prints hit@5 and MRR@10
with and without link lift, and the best-passage similarity of each answer (the abstention
threshold applies to it). Written to catch retrieval changes that only suit the FastAPI docs.
"""

from __future__ import annotations

import asyncio

from rag.retrieval import HybridRetriever

QUESTIONS: list[tuple[str, set[str]]] = [
    ("How do I run the tests?", {"README.md", "Makefile"}),
    ("Where is the abstention threshold configured?", {"ops/settings/serving.py", "README.md"}),
    ("How are chunk ids computed?", {"rag/chunking/ids.py"}),
    ("How are BM25 and dense search results combined?", {"rag/retrieval.py"}),
    (
        "What happens when the vector store fails?",
        {"rag/stores/lancedb.py", "core/errors.py", "docs/architecture.md"},
    ),
    ("How is the embedding model exported to ONNX?", {"rag/embedding/onnx_export.py"}),
    (
        "How does re-indexing know which files changed?",
        {"rag/indexer.py", "rag/catalog.py", "docs/architecture.md"},
    ),
    ("Which endpoints does the HTTP API have?", {"ops/api.py", "README.md"}),
    ("How are Markdown documents split into passages?", {"rag/chunking/docs.py"}),
    ("How does the extractive answer choose sentences?", {"core/extractive.py"}),
    ("Where are questions and answers stored?", {"adapters/storage/local.py"}),
    ("How is a git URL cloned before indexing?", {"rag/sources.py"}),
]


def main() -> None:
    from benchmarks.retrieval import KB, RUNS, build_tree, indexed  # it imports QUESTIONS

    run = next(r for r in RUNS if r.dev == "own")
    notes: list[str] = []
    services = indexed(run, build_tree(run), notes)
    print(*notes, sep="\n")
    threshold = services.answers.policy.min_relevance
    for follow_links in (True, False):
        retriever = HybridRetriever(
            store=services.store,
            embedder=services.embedder,
            catalog=services.catalog,
            follow_links=follow_links,
        )
        hits, rr, answered = 0, 0.0, 0
        for question, wanted in QUESTIONS:
            found = asyncio.run(retriever.search(question, kb=KB, k=10))
            paths = [s.path for s in found]
            rank = next((n for n, p in enumerate(paths, 1) if p in wanted), None)
            hits += rank is not None and rank <= 5
            rr += 1 / rank if rank else 0.0
            best = max((s.score for s in found[:5]), default=0.0)
            answered += best >= threshold
            if follow_links:
                print(f"  rank {rank}, best {best:.2f}: {question!r} -> {', '.join(paths[:5])}")
        retriever.close()
        print(
            f"link lift {'on ' if follow_links else 'off'}: "
            f"hit@5 {hits / len(QUESTIONS):.3f}  MRR@10 {rr / len(QUESTIONS):.3f}  "
            f"answered {answered}/{len(QUESTIONS)} at min_relevance {threshold}"
        )
    services.retriever.close()


if __name__ == "__main__":
    main()
