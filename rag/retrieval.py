"""Hybrid retrieval: BM25 and dense search fused by reciprocal rank, one page per slot."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from core.citations import source_url
from core.errors import UnknownKnowledgeBase
from core.overview import lead_passage, naming_project, overview_page, project_name
from core.passages import is_boilerplate
from core.types import Chunk, ChunkKind, FileRole, Source
from core.versions import named_versions, names_release, version_words
from rag.catalog import Catalog, KnowledgeBase
from rag.intent import Intent, excluded_roles, question_intent, role_weight
from rag.keywords import keyword_query
from rag.layout.languages import detect
from rag.layout.roles import in_docs_folder
from rag.links import linked_paths
from rag.ports import Embedder, HybridSearch, Vectors, VectorStore

_log = logging.getLogger(__name__)

_MAX_CACHED_LINKS = 200_000  # passages per knowledge base; the cache starts over beyond it
# A passage of only imports or exports matches module names and little else: its fused
# score counts this much, so it neither takes a slot nor lifts its page on its own.
BOILERPLATE_WEIGHT = 0.2
# A question that names a version ("what changed in 3.0?") is about that release: a section
# titled with other versions only (a changelog's "Version 0.3.1") counts this much. Embeddings
# hardly tell 3.0 from 0.3.1.
OTHER_RELEASE_WEIGHT = 0.3
# ...and a section titled with the release it names is evidence at least this strong, however
# little its list of changes resembles the question (Flask's "What changed in version 3.0?":
# cosine 0.33 to its 3.0.0 section, under the 0.35 an answer needs).
RELEASE_EVIDENCE = 0.5
# The same floor for the lead of the README when a question asks what the project is
# (core.overview): it says so in words the question does not use.
LEAD_EVIDENCE = RELEASE_EVIDENCE
# Two passages whose word sets overlap this much (Jaccard) say the same thing.
_COPY = 0.75
_COPY_DEPTH = 4  # ...among this many times k of the first pages
# Questions longer than this name what they are about; shorter ones may say "it" for the project.
_SHORT_QUESTION_CHARS = 120


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How much each ranking counts in reciprocal rank fusion."""

    dense: float = 1.5  # measured on every dev set (docs/architecture.md)
    keyword: float = 1.0
    rrf_k: int = 60


def reciprocal_rank_fusion(
    rankings: list[tuple[list[str], float]], *, rrf_k: int = 60
) -> list[tuple[str, float]]:
    """Fuses ranked id lists: score(id) = sum of weight / (rrf_k + rank), best first.

    Ties keep the order in which ids first appeared, so the result is deterministic.
    """
    scores: dict[str, float] = defaultdict(float)
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            scores[chunk_id] += weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def rank_pages(
    fused: list[tuple[str, float]],
    pages: dict[str, str],
    *,
    decay: float,
    page_weight: Callable[[str], float],
    links: Mapping[str, Sequence[str]] | None = None,
    folded: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[str, list[str]]]:
    """Pages ranked by their chunks' fused scores, each with its chunk ids best first.

    A page scores sum(score_i * decay**i) over its chunks in descending order: the best
    passage counts most, and a page that several good passages come from beats a page with
    one lucky hit. `page_weight` scales whole pages (by their role, for the question).

    `links` maps a chunk id to the pages its passage links to. Documentation often answers
    a broad question with "see X", so such a passage also counts as a passage of each
    ranked page it links to; but a link lifts a page at most to the score of the page that
    links to it, and never lowers it.

    `folded` maps a page to the pages it belongs to (an example file to the pages that
    include it, a translation to its original). When one of those is ranked too, the page
    takes no slot of its own: its passages count as passages of that page instead.
    """
    chunks_of: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for chunk_id, score in fused:
        chunks_of[pages[chunk_id]].append((chunk_id, score))
    for scored in chunks_of.values():
        scored.sort(key=lambda item: -item[1])
    borrowed = _fold(chunks_of, folded or {}, page_weight)
    own = {
        page: _decayed([s for _, s in scored] + borrowed.get(page, []), decay) * page_weight(page)
        for page, scored in chunks_of.items()
    }
    referrers: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for chunk_id, score in fused:
        source = pages[chunk_id]
        for target in (links or {}).get(chunk_id, ()):
            if target in chunks_of and target != source:
                referrers[target].append((score, source))
    ranked = []
    for page, scored in chunks_of.items():
        total = own[page]
        if page in referrers:
            mine = [s for _, s in scored] + borrowed.get(page, [])
            lifted = _decayed(mine + [s for s, _ in referrers[page]], decay)
            ceiling = max(own[source] for _, source in referrers[page])
            total = max(total, min(lifted * page_weight(page), ceiling))
        ranked.append((total, own[page], page, [i for i, _ in scored]))
    ranked.sort(key=lambda item: (-item[0], -item[1]))
    return [(page, ids) for _, _, page, ids in ranked]


def _fold(
    chunks_of: dict[str, list[tuple[str, float]]],
    folded: Mapping[str, Sequence[str]],
    page_weight: Callable[[str], float],
) -> dict[str, list[float]]:
    """Moves the passages of folded pages to their ranked hosts; the scores each host gains.

    Pages are taken best first and a host must still be ranked itself, so two pages that
    include each other never both vanish. A folded page keeps its own weight: its scores
    count for the host as much as they would have for the page itself, never more (a
    changelog a docs page includes lifts that page as little as it would rank).
    """
    borrowed: dict[str, list[float]] = defaultdict(list)
    order = sorted(chunks_of, key=lambda page: -chunks_of[page][0][1])
    for page in order:
        hosts = [h for h in folded.get(page, ()) if h != page and h in chunks_of]
        if not hosts:
            continue
        scores = [s for _, s in chunks_of.pop(page)] + borrowed.pop(page, [])
        mine = page_weight(page)
        for host in hosts:
            theirs = page_weight(host)
            ratio = min(1.0, mine / theirs) if theirs > 0 else 1.0
            borrowed[host].extend(score * ratio for score in scores)
    return borrowed


def _decayed(scores: list[float], decay: float) -> float:
    """sum(score_i * decay**i) over the scores in descending order."""
    return sum(score * decay**i for i, score in enumerate(sorted(scores, reverse=True)))


class HybridRetriever:
    """Implements core.ports.Retriever over a VectorStore and an Embedder.

    Chunks from BM25 and from dense search are fused by reciprocal rank (or by the store
    itself when it implements HybridSearch, with its own weights), grouped into pages
    (files) ranked by `rank_pages` (with `follow_links`, pages that candidate passages link
    to are lifted), and the best `per_page` chunks of the top pages returned, so one long
    page cannot fill every slot. A Source's score is the cosine similarity
    between question and passage, an absolute measure the answering service can threshold
    (at least RELEASE_EVIDENCE for the section of a release the question names); the order
    is the fused ranking.

    Searches run on the retriever's own `workers` threads, so a burst of questions cannot
    starve the default executor that the platform clients and the log writer share. The
    links of each passage are cached per chunk id (ids come from the content) for as long
    as the knowledge base's catalog record is unchanged.
    """

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        catalog: Catalog,
        candidates: int = 200,
        per_page: int = 1,
        page_decay: float = 0.3,
        secondary_weight: float = 0.5,
        follow_links: bool = True,
        weights: FusionWeights | None = None,
        workers: int | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._catalog = catalog
        self._candidates = candidates
        self._per_page = per_page
        self._page_decay = page_decay
        self._secondary_weight = secondary_weight
        self._follow_links = follow_links
        self._weights = weights or FusionWeights()
        self._executor = ThreadPoolExecutor(
            max_workers=workers or min(4, os.cpu_count() or 1), thread_name_prefix="retrieval"
        )
        self._link_cache: dict[str, tuple[tuple[str, str], dict[str, list[str]]]] = {}
        self._link_lock = threading.Lock()
        self._lead_cache: dict[str, tuple[tuple[str, str], Chunk | None]] = {}

    def close(self) -> None:
        """Stops the search threads once the searches in flight are done."""
        self._executor.shutdown(wait=True)

    def knowledge_bases(self) -> list[str]:
        return self._catalog.names()

    async def search(
        self, query: str, *, kb: str, k: int, kind: ChunkKind | None = None
    ) -> list[Source]:
        record = self._catalog.get(kb)  # once per search, from memory (rag.shared_catalog)
        loop = asyncio.get_running_loop()
        if record is None:
            # Perhaps indexed elsewhere since the last refresh: asked again off the loop.
            record = await loop.run_in_executor(self._executor, self._catalog.get, kb)
        if record is None:
            raise UnknownKnowledgeBase(f"unknown knowledge base {kb!r}")
        return await loop.run_in_executor(self._executor, self._search, query, record, k, kind)

    def _search(
        self, query: str, record: KnowledgeBase, k: int, kind: ChunkKind | None
    ) -> list[Source]:
        kb = record.name
        intent = question_intent(query)
        vector = self._embedder.embed([self._dense_query(query, record, intent)])[0]
        n = max(self._candidates, k)
        skip = excluded_roles(intent)
        if isinstance(self._store, HybridSearch):
            # The store fuses BM25 and dense itself (Weaviate: alpha and fusion type).
            hits = self._store.hybrid_search(
                kb, keyword_query(query), vector, k=n, kind=kind, exclude_roles=skip
            )
            hits = _without_memory(hits, kind)
            chunks: dict[str, Chunk] = {c.id: c for c, _ in hits}
            similarity: dict[str, float] = {}
            fused = [(c.id, score) for c, score in hits]
        else:
            dense = _without_memory(
                self._store.vector_search(kb, vector, k=n, kind=kind, exclude_roles=skip), kind
            )
            words = keyword_query(query)
            keyword = _without_memory(
                self._store.keyword_search(kb, words, k=n, kind=kind, exclude_roles=skip), kind
            )
            chunks = {c.id: c for c, _ in [*keyword, *dense]}
            similarity = {c.id: s for c, s in dense}
            w = self._weights
            fused = reciprocal_rank_fusion(
                [([c.id for c, _ in dense], w.dense), ([c.id for c, _ in keyword], w.keyword)],
                rrf_k=w.rrf_k,
            )
        overview = intent is Intent.OVERVIEW and kind in (None, ChunkKind.DOC)
        lead = self._lead(record) if overview else None
        if lead is not None:
            # The README's opening says what the project is: first among the candidates.
            chunks[lead.id] = lead
            top = max((score for _, score in fused), default=1.0)
            fused = [(lead.id, top), *((i, s) for i, s in fused if i != lead.id)]
        asked = set(named_versions(query))
        fused = _damped(fused, chunks, asked)
        other_language = _in_other_language(query, record)
        folded = _folded(record, chunks, translations=not other_language)
        if lead is not None:
            folded.pop(lead.path, None)  # a README that the docs' index includes is still itself
        pages = rank_pages(
            fused,
            {i: c.path for i, c in chunks.items()},
            decay=self._page_decay,
            page_weight=self._page_weight(query, chunks, other_language),
            links=self._links(record, chunks) if self._follow_links else None,
            folded=folded,
        )
        # Copies are looked for among the first pages only: each is compared with those above.
        leading = pages[: _COPY_DEPTH * k]
        distinct = _distinct(leading, chunks, pinned=lead.path if lead is not None else "")
        order = [i for _, ids in distinct[:k] for i in ids[: self._per_page]][:k]
        missing = [i for i in order if i not in similarity]
        if missing:
            similarity.update(_cosines(vector, self._store.vectors(kb, missing)))
        sources = []
        for i in order:
            score = _evidence(similarity.get(i, 0.0), chunks[i], asked)
            if lead is not None and i == lead.id:
                score = max(score, LEAD_EVIDENCE)
            sources.append(self._source(record, chunks[i], score))
        return sources

    def _page_weight(
        self, query: str, chunks: dict[str, Chunk], other_language: bool
    ) -> Callable[[str], float]:
        """Pages weighed by their files' roles for what the question asks (rag.intent)."""
        roles = {c.path: c.role for c in chunks.values()}
        weight = role_weight(
            question_intent(query),
            secondary=self._secondary_weight,
            translations_first=other_language,
        )
        return lambda path: weight(roles.get(path, FileRole.UNKNOWN), path)

    def _dense_query(self, query: str, record: KnowledgeBase, intent: Intent) -> str:
        """What dense search embeds: the question, with the project's name (its README's
        title) for "this library" or the "it" of a short question (core.overview)."""
        if intent is Intent.OVERVIEW or len(query) > _SHORT_QUESTION_CHARS:
            return query
        lead = self._lead(record)
        name = project_name(lead) if lead is not None else ""
        return naming_project(query, name) or query

    def _lead(self, record: KnowledgeBase) -> Chunk | None:
        """The opening passage of the knowledge base's README (core.overview), looked up
        once per indexed version: listing a knowledge base's chunks reads the whole table."""
        version = (record.indexed_at, record.commit)
        with self._link_lock:
            cached = self._lead_cache.get(record.name)
        if cached is not None and cached[0] == version:
            return cached[1]
        page = overview_page(record.files)
        lead = None
        if page is not None:
            ids = [i for i, p in self._store.chunk_ids(record.name).items() if p == page]
            lead = lead_passage(self._store.chunks(record.name, ids).values())
        with self._link_lock:
            self._lead_cache[record.name] = (version, lead)
        return lead

    def _links(self, record: KnowledgeBase, chunks: dict[str, Chunk]) -> dict[str, list[str]]:
        """The files of the knowledge base that each candidate passage links to."""
        cached = self._cached_links(record)
        missing = {i: c for i, c in chunks.items() if i not in cached}
        if missing:
            found = {i: linked_paths(c.path, c.text, record.files) for i, c in missing.items()}
            with self._link_lock:
                cached.update(found)
        return {i: cached[i] for i in chunks}

    def _cached_links(self, record: KnowledgeBase) -> dict[str, list[str]]:
        """The link cache of one knowledge base, emptied when its record changes (re-index)."""
        version = (record.indexed_at, record.commit)
        with self._link_lock:
            entry = self._link_cache.get(record.name)
            if entry is None or entry[0] != version or len(entry[1]) > _MAX_CACHED_LINKS:
                entry = (version, {})
                self._link_cache[record.name] = entry
            return entry[1]

    @staticmethod
    def _source(kb: KnowledgeBase, chunk: Chunk, score: float) -> Source:
        url = None
        if kb.web_url:
            url = source_url(
                kb.web_url,
                commit=chunk.commit,
                path=kb.web_prefix + chunk.path,
                start_line=chunk.start_line,
                end_line=chunk.end_line,
            )
        return Source(chunk=chunk, score=round(float(score), 4), url=url)


def _distinct(
    pages: list[tuple[str, list[str]]], chunks: dict[str, Chunk], *, pinned: str = ""
) -> list[tuple[str, list[str]]]:
    """The ranked pages less copies: a page whose best passage says nearly word for word
    what a page above says (CONTRIBUTING.md kept in .github/ and in docs/, a README made
    from the docs' index) takes no second slot. Of the two, the one in a docs folder keeps
    the slot, at the better rank: that is the page the published docs link to (unless the
    other is `pinned`, the README whose opening answers a question about the project)."""
    seen: list[frozenset[str]] = []
    kept: list[tuple[str, list[str]]] = []
    for page, ids in pages:
        words = frozenset(chunks[ids[0]].text.lower().split()) if ids else frozenset()
        twin = next(
            (n for n, s in enumerate(seen) if words and len(words & s) >= _COPY * len(words | s)),
            None,
        )
        if twin is None:
            seen.append(words)
            kept.append((page, ids))
        else:
            other = kept[twin][0]
            if other != pinned and in_docs_folder(page) and not in_docs_folder(other):
                kept[twin] = (page, ids)
    return kept


def _without_memory(
    hits: list[tuple[Chunk, float]], kind: ChunkKind | None
) -> list[tuple[Chunk, float]]:
    """The hits of a search over every kind, less the answer memory (searched on its own)."""
    if kind is not None:
        return hits
    return [(c, s) for c, s in hits if c.kind is not ChunkKind.MEMORY]


def _damped(
    fused: list[tuple[str, float]], chunks: dict[str, Chunk], asked: set[str]
) -> list[tuple[str, float]]:
    """The fused scores with boilerplate passages (core.passages) and, for a question that
    names a version (`asked`: core.versions.named_versions), the sections of other releases
    weighed down; re-sorted."""

    def weight(chunk: Chunk) -> float:
        if is_boilerplate(chunk):
            return BOILERPLATE_WEIGHT
        other = asked and version_words(chunk.title) and not names_release(chunk.title, asked)
        return OTHER_RELEASE_WEIGHT if other else 1.0

    damped = [(i, score * weight(chunks[i])) for i, score in fused]
    return sorted(damped, key=lambda item: -item[1])


def _folded(
    record: KnowledgeBase | None, chunks: dict[str, Chunk], *, translations: bool
) -> dict[str, list[str]]:
    """Candidate pages that belong to other pages: included files to the pages that include
    them and, with `translations`, translations to their originals."""
    if record is None:
        return {}
    folded: dict[str, list[str]] = {}
    for path in {c.path for c in chunks.values()}:
        hosts = list(record.included_by.get(path, ()))
        if translations and path in record.translated_from:
            hosts.append(record.translated_from[path])
        if hosts:
            folded[path] = hosts
    return folded


def _in_other_language(query: str, record: KnowledgeBase | None) -> bool:
    """Whether the question is written in another language than the knowledge base's."""
    if record is None or not record.language:
        return False
    language = detect(query, min_words=4)
    return language not in ("", record.language)


def _evidence(similarity: float, chunk: Chunk, asked: set[str]) -> float:
    """A passage's score: its similarity, or RELEASE_EVIDENCE if higher for a section titled
    with a release that the question names (`asked`: core.versions.named_versions)."""
    if names_release(chunk.title, asked):
        return max(similarity, RELEASE_EVIDENCE)
    return similarity


def _cosines(query: Vectors, vectors: dict[str, Vectors]) -> dict[str, float]:
    return {i: float(np.dot(query, v)) for i, v in vectors.items()}
