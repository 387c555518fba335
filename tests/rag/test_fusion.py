"""Reciprocal rank fusion rewards agreement, and diversification caps passages per page."""

from __future__ import annotations

from rag.keywords import split_identifiers
from rag.retrieval import diversify, reciprocal_rank_fusion


def test_rrf_prefers_ids_ranked_well_by_both() -> None:
    """An id second in both lists beats ids first in only one."""
    fused = reciprocal_rank_fusion([(["a", "b", "c"], 1.0), (["d", "b", "e"], 1.0)], rrf_k=60)
    assert [i for i, _ in fused][:3] == ["b", "a", "d"]
    assert fused[0][1] == 2 / 62


def test_rrf_weights() -> None:
    """A heavier ranking wins a tie-break between first places."""
    fused = reciprocal_rank_fusion([(["a"], 1.0), (["b"], 2.0)])
    assert [i for i, _ in fused] == ["b", "a"]


def test_diversify_caps_per_page_and_keeps_order() -> None:
    """At most `per_page` chunks of a file are kept, in ranked order, up to k."""
    pages = {"1": "x.md", "2": "x.md", "3": "y.md", "4": "x.md", "5": "z.md"}
    assert diversify(["1", "2", "3", "4", "5"], pages, per_page=1, k=5) == ["1", "3", "5"]
    assert diversify(["1", "2", "3", "4", "5"], pages, per_page=2, k=3) == ["1", "2", "3"]


def test_split_identifiers() -> None:
    """snake_case and camelCase identifiers yield their words; plain words yield nothing."""
    assert split_identifiers("call load_settings or getUserName now") == (
        "load settings get user name"
    )
    assert split_identifiers("plain words only") == ""
