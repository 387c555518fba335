"""Failed questions are told apart by why they failed, grouped by average linkage, ranked by
questions and users, placed next to their closest page, and written as inert Markdown."""

from __future__ import annotations

from functools import partial

import numpy as np

from rag.gaps import (
    FailedQuestion,
    FailureReason,
    Gap,
    GapReport,
    PageMatch,
    SimilarityWeights,
    cluster,
    failure_reason,
    find_gaps,
    issue_body,
    issue_marker,
    issue_title,
    plain_markdown,
    rank,
    representative,
    similarity,
    where_it_belongs,
)


def asked(
    text: str,
    *,
    user: str | None = "a" * 32,
    reason: FailureReason = FailureReason.TOO_WEAK,
    at: str = "2026-11-20T10:00:00+00:00",
    kb: str = "docs",
) -> FailedQuestion:
    return FailedQuestion(
        interaction_id=str(abs(hash((text, user, at)))),
        kb=kb,
        question=text,
        asked_at=at,
        platform="slack",
        user=user,
        reason=reason,
        best_score=0.4,
    )


def test_failure_reason_orders_correction_decline_and_dislike() -> None:
    """A correction outranks a decline, a decline is split by relevance, a dislike is net."""
    declined = partial(failure_reason, abstained=True, min_relevance=0.35, positive=0, negative=0)
    assert declined(best_score=0.2, corrected=True) == FailureReason.CORRECTED
    assert declined(best_score=0.2, corrected=False) == FailureReason.NOTHING_RELEVANT
    assert declined(best_score=0.5, corrected=False) == FailureReason.TOO_WEAK
    voted = partial(
        failure_reason, abstained=False, best_score=0.8, min_relevance=0.35, corrected=False
    )
    assert voted(positive=1, negative=2) == FailureReason.DISLIKED
    assert voted(positive=2, negative=2) is None
    assert voted(positive=0, negative=0) is None


def test_average_linkage_merges_only_groups_close_on_average() -> None:
    """0-1 and 2-3 are close pairs; 1-2 is close but the groups are not on average."""
    sim = np.array(
        [
            [1.0, 0.9, 0.2, 0.1],
            [0.9, 1.0, 0.6, 0.2],
            [0.2, 0.6, 1.0, 0.8],
            [0.1, 0.2, 0.8, 1.0],
        ]
    )
    assert cluster(sim, threshold=0.5) == [[0, 1], [2, 3]]
    assert cluster(sim, threshold=0.95) == [[0], [1], [2], [3]]
    assert cluster(sim, threshold=0.2) == [[0, 1, 2, 3]]
    assert cluster(np.zeros((0, 0))) == []


def test_representative_is_the_member_closest_to_the_rest() -> None:
    sim = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.9], [0.4, 0.9, 1.0]])
    assert representative([0, 1, 2], sim) == 1
    assert representative([2], sim) == 2


def test_similarity_adds_shared_content_words_to_the_cosine() -> None:
    """Same vectors, but the pair that shares its content words scores higher."""
    texts = ["enable cors middleware", "cors middleware setup", "upload a large file"]
    vectors = np.tile(np.array([[1.0, 0.0]]), (3, 1))
    sim = similarity(texts, vectors)
    assert sim[0, 1] > sim[0, 2]
    assert np.isclose(sim[0, 2], SimilarityWeights().dense)  # no shared word: dense alone


def test_gaps_rank_by_questions_then_users_then_recency() -> None:
    one_user = Gap("docs", "q", (asked("x", user="b" * 32), asked("y", user="b" * 32)))
    two_users = Gap("docs", "q", (asked("x", user="b" * 32), asked("y", user=None)))
    recent = Gap("docs", "q", (asked("z", at="2026-11-29T10:00:00+00:00"),))
    old = Gap("docs", "q", (asked("w", at="2026-11-01T10:00:00+00:00"),))
    assert rank([old, one_user, recent, two_users]) == [two_users, one_user, recent, old]
    assert two_users.users == 2 and one_user.users == 1


def test_find_gaps_keeps_knowledge_bases_apart() -> None:
    """Identical questions in two knowledge bases are two gaps."""
    failed = [asked("how to enable cors", kb="a"), asked("how to enable cors", kb="b")]
    gaps = find_gaps(failed, np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert sorted(g.kb for g in gaps) == ["a", "b"]


def test_a_gap_reports_its_main_reason_and_counts() -> None:
    gap = Gap(
        "docs",
        "q",
        (
            asked("a", reason=FailureReason.DISLIKED),
            asked("b", reason=FailureReason.NOTHING_RELEVANT),
            asked("c", reason=FailureReason.DISLIKED),
        ),
    )
    assert gap.reason is FailureReason.DISLIKED
    assert gap.reasons == {"disliked": 2, "nothing relevant": 1}


def test_where_it_belongs_follows_the_closest_page() -> None:
    relevant = [PageMatch("docs/a/cors.md", "CORS", 0.3), PageMatch("docs/b/x.md", "Use", 0.5)]
    assert (
        where_it_belongs(relevant, min_relevance=0.35) == 'a section in docs/b/x.md, next to "Use"'
    )
    weak = [PageMatch("docs/a/cors.md", "CORS", 0.2)]
    assert where_it_belongs(weak, min_relevance=0.35) == "a new page in docs/a/"
    assert where_it_belongs([PageMatch("README.md", "README.md", 0.1)], min_relevance=0.35) == (
        "a new page at the top of the docs"
    )
    assert where_it_belongs([], min_relevance=0.35).startswith("a new page")


def test_user_text_is_inert_in_the_issue_body() -> None:
    """Pings, links, headings and HTML in a question do nothing on GitHub."""
    line = plain_markdown("@octocat see [x](http://e) <img src=x>\n# title")
    assert "@\u200boctocat" in line
    assert "\\[x\\]\\(http://e\\)" in line and "\\<img" in line
    assert "\n" not in line


def test_issue_title_and_body_name_the_gaps_and_hold_the_marker() -> None:
    gap = Gap(
        "docs",
        "How to enable CORS?",
        (asked("How to enable CORS?"), asked("Allow other origins?", user="c" * 32)),
        pages=(PageMatch("docs/cors.md", "CORS", 0.42),),
        belongs="a section in docs/cors.md",
    )
    report = GapReport(since="2026-11-01", until="2026-11-30", kb="docs", gaps=(gap,))
    assert issue_title(report) == (
        "Documentation gaps: 2 questions newcomers could not get answered (docs)"
    )
    body = issue_body(report)
    assert "### 1. How to enable CORS?" in body
    assert "2 questions from 2 users (too weak 2)." in body
    assert "`docs/cors.md` (CORS, 0.42)" in body
    assert "- Allow other origins?" in body
    assert body.endswith(issue_marker("docs"))
