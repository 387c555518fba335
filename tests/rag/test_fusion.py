"""Reciprocal rank fusion rewards agreement, and diversification caps passages per page."""

from __future__ import annotations

from core.types import FileRole
from core.versions import named_versions, names_release, version_words
from rag.intent import Intent, role_weight
from rag.keywords import keyword_query, split_identifiers
from rag.retrieval import rank_pages, reciprocal_rank_fusion


def test_rrf_prefers_ids_ranked_well_by_both() -> None:
    """An id second in both lists beats ids first in only one."""
    fused = reciprocal_rank_fusion([(["a", "b", "c"], 1.0), (["d", "b", "e"], 1.0)], rrf_k=60)
    assert [i for i, _ in fused][:3] == ["b", "a", "d"]
    assert fused[0][1] == 2 / 62


def test_rrf_weights() -> None:
    """A heavier ranking wins a tie-break between first places."""
    fused = reciprocal_rank_fusion([(["a"], 1.0), (["b"], 2.0)])
    assert [i for i, _ in fused] == ["b", "a"]


def test_pages_ranked_by_decayed_sum_of_their_chunks() -> None:
    """A page with several good chunks beats one with a single slightly better chunk."""
    fused = [("a1", 0.030), ("b1", 0.031), ("a2", 0.025), ("c1", 0.010)]
    pages = {"a1": "a.md", "a2": "a.md", "b1": "b.md", "c1": "c.md"}
    ranked = rank_pages(fused, pages, decay=0.3, page_weight=lambda _: 1.0)
    assert ranked == [("a.md", ["a1", "a2"]), ("b.md", ["b1"]), ("c.md", ["c1"])]
    only_best = rank_pages(fused, pages, decay=0.0, page_weight=lambda _: 1.0)
    assert [p for p, _ in only_best] == ["b.md", "a.md", "c.md"]


def test_secondary_roles_weigh_less() -> None:
    """For a how-to question, release notes and tests rank below a docs page they outscore."""
    weight = role_weight(Intent.HOWTO, secondary=0.5)
    roles = {"release-notes.md": FileRole.CHANGELOG, "tests/test_x.py": FileRole.TEST}
    fused = [("r", 0.03), ("t", 0.029), ("d", 0.02)]
    pages = {"r": "release-notes.md", "t": "tests/test_x.py", "d": "d.md"}
    ranked = rank_pages(
        fused,
        pages,
        decay=0.3,
        page_weight=lambda p: weight(roles.get(p, FileRole.DOCS), p),
    )
    assert [p for p, _ in ranked] == ["d.md", "release-notes.md", "tests/test_x.py"]


def test_folded_pages_lend_their_passages_to_their_hosts() -> None:
    """An included example's hit lifts the page that includes it and takes no slot itself;
    an example whose page is not among the candidates keeps its own."""
    fused = [("ex1", 0.03), ("other", 0.025), ("page1", 0.02), ("lone", 0.01)]
    pages = {"ex1": "ex.py", "other": "other.md", "page1": "page.md", "lone": "lone.py"}
    folded = {"ex.py": ["page.md"], "lone.py": ["absent.md"]}
    ranked = rank_pages(fused, pages, decay=0.3, page_weight=lambda _: 1.0, folded=folded)
    assert ranked == [("page.md", ["page1"]), ("other.md", ["other"]), ("lone.py", ["lone"])]
    cycle = {"ex.py": ["page.md"], "page.md": ["ex.py"]}
    both = rank_pages(fused, pages, decay=0.3, page_weight=lambda _: 1.0, folded=cycle)
    assert both[0][0] == "page.md"


def test_a_folded_page_keeps_its_own_weight() -> None:
    """A changelog that a docs page includes lifts the page as little as it would rank on its
    own: its scores count at the changelog's weight, not the page's."""
    fused = [("log1", 0.05), ("guide1", 0.03), ("host1", 0.01)]
    pages = {"log1": "HISTORY.md", "guide1": "guide.md", "host1": "updates.md"}
    weights = {"HISTORY.md": 0.5}

    def ranked() -> list[str]:
        found = rank_pages(
            fused,
            pages,
            decay=0.3,
            page_weight=lambda p: weights.get(p, 1.0),
            folded={"HISTORY.md": ["updates.md"]},
        )
        return [p for p, _ in found]

    # updates.md: 0.05 * 0.5 + 0.3 * 0.01 = 0.028 < 0.03; at full weight it would be 0.053.
    assert ranked() == ["guide.md", "updates.md"]
    weights["HISTORY.md"] = 1.0
    assert ranked() == ["updates.md", "guide.md"]


def test_a_linked_page_is_lifted_up_to_the_page_linking_to_it() -> None:
    """A passage's link counts for the linked page, which rises to just below its linker."""
    fused = [("hub", 0.030), ("other", 0.026), ("target", 0.020)]
    pages = {"hub": "hub.md", "other": "other.md", "target": "target.md"}
    plain = rank_pages(fused, pages, decay=0.3, page_weight=lambda _: 1.0)
    assert [p for p, _ in plain] == ["hub.md", "other.md", "target.md"]
    linked = rank_pages(
        fused, pages, decay=0.3, page_weight=lambda _: 1.0, links={"hub": ["target.md"]}
    )
    assert linked == [("hub.md", ["hub"]), ("target.md", ["target"]), ("other.md", ["other"])]


def test_links_never_lower_a_page_nor_add_one_without_passages() -> None:
    """A page above its linker keeps its rank; links to pages with no candidate are ignored."""
    fused = [("best", 0.030), ("hub", 0.020), ("mid", 0.015)]
    pages = {"best": "best.md", "hub": "hub.md", "mid": "mid.md"}
    links = {"hub": ["best.md", "absent.md", "hub.md"], "mid": []}
    ranked = rank_pages(fused, pages, decay=0.3, page_weight=lambda _: 1.0, links=links)
    assert [p for p, _ in ranked] == ["best.md", "hub.md", "mid.md"]


def test_split_identifiers() -> None:
    """snake_case and camelCase identifiers yield their words; plain words yield nothing."""
    assert split_identifiers("call load_settings or getUserName now") == (
        "load settings get user name"
    )
    assert split_identifiers("plain words only") == ""


def test_version_words() -> None:
    """Version numbers become whole words with their prefixes; other numbers do not."""
    assert version_words("Version 3.0.1 (v2.1), see 0.35") == [
        "ver3p0",
        "ver3p0p1",
        "ver2p1",
        "ver0p35",
    ]
    assert version_words("host 10.0.0.1, python3.11, 2024-01-02") == []
    assert keyword_query("What changed in 3.0?") == "What changed in 3.0? ver3p0"
    assert keyword_query("plain words") == "plain words"


def test_named_versions_are_the_versions_as_written() -> None:
    """A question names the release it writes out, not the prefixes that find its siblings."""
    assert named_versions("What changed in 3.0.2, and in v2.1?") == ["ver3p0p2", "ver2p1"]
    assert named_versions("no version here, 0.35 aside") == ["ver0p35"]
    assert named_versions("host 10.0.0.1") == []


def test_a_title_names_a_release_by_its_number_or_a_prefix_the_question_wrote() -> None:
    assert names_release("Version 3.0.2", named_versions("what changed in 3.0.2?"))
    assert names_release("Version 3.0.2", named_versions("what changed in 3.0?"))
    assert not names_release("Version 3.0.0", named_versions("what changed in 3.0.2?"))
    assert not names_release("Version 3.0.2", [])  # the question names no release
