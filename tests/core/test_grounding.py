"""Generated answers checked against their sources: citations, support, invented sources,
repetition, and the fallback."""

from __future__ import annotations

from collections.abc import Sequence

from core.answering import (
    ABSTAINED_MODEL,
    INVENTED_SOURCE,
    LOW_SUPPORT,
    REPETITIVE,
    AnswerPolicy,
    AnswerService,
)
from core.answering import OFF_TOPIC as OFF_TOPIC_CAUSE
from core.extractive import EXTRACTIVE_MODEL
from core.grounding import (
    GroundingPolicy,
    PassageHeader,
    check_answer,
    cited_numbers,
    remove_invalid_citations,
)
from core.types import Question, Source
from tests.fakes import ListRetriever, MemoryInteractionLog, ScriptedChatModel, chunk

PASSAGES = [
    "Run the test suite with pytest from the repository root. Install the test extra first "
    "with pip install -e '.[test]'.",
    "Request bodies are validated by Pydantic models declared as parameters.",
]


def test_markers_outside_the_passages_are_removed_and_counted() -> None:
    text, removed = remove_invalid_citations("Use pytest [1][7]. See [0] and [2, 9].", 2)
    assert text == "Use pytest [1]. See and [2]."
    assert removed == 3


def test_indexes_and_code_are_not_citations() -> None:
    answer = "Take `items[5]` or items[3], then:\n\n```python\nx = rows[9]\n```\nDone [4]."
    text, removed = remove_invalid_citations(answer, 2)
    assert removed == 1
    assert "`items[5]`" in text and "items[3]" in text and "rows[9]" in text
    assert cited_numbers(answer) == [4]


def test_a_sentence_is_supported_by_the_passage_it_cites_not_by_another() -> None:
    good = check_answer("Run the test suite with pytest from the repository root [1].", PASSAGES)
    wrong = check_answer("Run the test suite with pytest from the repository root [2].", PASSAGES)
    assert good.sentences[0].score == 1.0 and good.grounded
    assert wrong.sentences[0].score < 0.3 and not wrong.grounded


def test_an_unsupported_claim_lowers_the_answer_below_the_threshold() -> None:
    answer = (
        "Run the test suite with pytest [1]. The project deploys nightly to Kubernetes clusters "
        "through Helm charts and ArgoCD pipelines managed by operators [1]."
    )
    check = check_answer(answer, PASSAGES)
    assert [s.score >= 0.5 for s in check.sentences] == [True, False]
    assert check.unsupported == 1
    assert not check.grounded


def test_uncited_sentences_take_their_paragraphs_citation_or_get_the_supporting_one() -> None:
    answer = (
        "Install the test extra with pip first. Then run pytest [1].\n\n"
        "Pydantic models validate the request bodies."
    )
    check = check_answer(answer, PASSAGES)
    assert [s.cited for s in check.sentences] == [(1,), (1,), (2,)]
    assert [s.attributed for s in check.sentences] == [False, False, True]
    assert check.text.endswith("Pydantic models validate the request bodies [2].")
    assert check.attributed_citations == 1 and check.grounded


def test_an_attributed_code_block_gets_its_marker_above_the_fence() -> None:
    check = check_answer("```bash\npip install -e '.[test]'\npytest\n```", PASSAGES)
    assert check.text.startswith("[1]\n```bash\n")


def test_embedding_overlap_counts_when_an_embedder_is_given() -> None:
    """A paraphrase sharing few words is scored higher when its vector is near the passage's."""

    def embed(texts: Sequence[str]) -> list[list[float]]:
        # A bag of two topics: testing words and validation words.
        testing = {"test", "pytest", "suite", "check", "verify", "run"}
        return [
            [
                float(sum(w.strip(".,'[]") in testing for w in t.lower().split())) + 0.01,
                float("pydantic" in t.lower() or "validat" in t.lower()),
            ]
            for t in texts
        ]

    answer = "Verify everything by running the checks [1]."
    lexical = check_answer(answer, PASSAGES)
    semantic = check_answer(answer, PASSAGES, embed=embed)
    assert lexical.sentences[0].semantic is None
    assert semantic.sentences[0].semantic is not None and semantic.sentences[0].semantic > 0.9
    assert semantic.support > lexical.support


def _service(reply: str, *, score: float) -> tuple[AnswerService, MemoryInteractionLog]:
    sources = [Source(chunk("docs/testing.md", PASSAGES[0]), score=score)]
    log = MemoryInteractionLog()
    service = AnswerService(
        retriever=ListRetriever({"default": sources}),
        chat_model=ScriptedChatModel([reply], name="small"),
        interaction_log=log,
        policy=AnswerPolicy(min_relevance=0.3, min_evidence=0.5, grounding=GroundingPolicy()),
    )
    return service, log


UNSUPPORTED = "Deploy nightly to Kubernetes clusters through Helm charts and ArgoCD [1][3]."


async def test_a_supported_answer_is_sent_with_its_bad_markers_removed() -> None:
    service, log = _service("Run the test suite with pytest from the root [1][3].", score=0.8)
    answer = await service.answer(Question("How do I run the tests?"))
    assert answer.model == "small" and not answer.extractive
    assert answer.text == "Run the test suite with pytest from the root [1]."
    assert answer.grounding is not None
    assert answer.grounding.removed_citations == 1 and answer.grounding.fallback is None
    recorded = log.records[answer.interaction_id].to_record()["answer"]["grounding"]
    assert recorded["support"] == 1.0 and recorded["model"] == "small"


async def test_an_unsupported_answer_falls_back_to_the_extractive_one_and_says_why() -> None:
    service, log = _service(UNSUPPORTED, score=0.8)
    answer = await service.answer(Question("How do I run the tests?"))
    assert answer.extractive and answer.model == EXTRACTIVE_MODEL
    assert answer.routed_model == "small"
    assert "Kubernetes" not in answer.text and "pytest" in answer.text
    assert answer.grounding is not None and answer.grounding.fallback == EXTRACTIVE_MODEL
    recorded = log.records[answer.interaction_id].to_record()["answer"]["grounding"]
    assert recorded["reason"].startswith("support 0.") and "below 0.60" in recorded["reason"]
    assert recorded["cause"] == LOW_SUPPORT
    assert recorded["removed_citations"] == 1


async def test_an_unsupported_answer_on_weak_evidence_says_it_does_not_know() -> None:
    service, _ = _service(UNSUPPORTED, score=0.4)
    answer = await service.answer(Question("How do I run the tests?"))
    assert answer.abstained and answer.model == ABSTAINED_MODEL
    assert answer.text.startswith("I don't know")
    assert answer.grounding is not None and answer.grounding.fallback == ABSTAINED_MODEL
    assert "best passage 0.40 below 0.50" in answer.grounding.reason


async def test_without_a_policy_the_generated_answer_is_sent_unchecked() -> None:
    sources = [Source(chunk("docs/testing.md", PASSAGES[0]), score=0.8)]
    service = AnswerService(
        retriever=ListRetriever({"default": sources}),
        chat_model=ScriptedChatModel([UNSUPPORTED], name="small"),
        interaction_log=MemoryInteractionLog(),
        policy=AnswerPolicy(min_relevance=0.3, grounding=None),
    )
    answer = await service.answer(Question("How do I run the tests?"))
    assert answer.text == UNSUPPORTED and answer.grounding is None


QUESTION = "How do I run the tests?"
OFF_TOPIC = "Request bodies are validated by Pydantic models declared as parameters [2]."


def test_an_answer_that_relates_to_the_question_is_on_topic() -> None:
    direct = check_answer(
        "Run the tests with pytest from the repository root [1].", PASSAGES, question=QUESTION
    )
    short = check_answer("Use pytest from the repository root [1].", PASSAGES, question=QUESTION)
    assert direct.on_topic and direct.relevance == 1.0 and direct.grounded
    # No word of the question, but it cites the passage that answers it.
    assert short.on_topic and short.grounded


def test_a_verbatim_copy_of_a_passage_that_does_not_address_the_question_is_off_topic() -> None:
    check = check_answer(OFF_TOPIC, PASSAGES, question=QUESTION)
    assert check.support == 1.0  # fully supported by the passage it copies
    assert check.relevance == 0.0 and not check.on_topic and not check.grounded
    # Without the question the same copy passes: relevance is what catches it.
    assert check_answer(OFF_TOPIC, PASSAGES).grounded


def test_a_paraphrase_is_still_on_topic_with_an_embedder() -> None:
    def embed(texts: Sequence[str]) -> list[list[float]]:
        testing = {"test", "tests", "pytest", "suite", "check", "checks", "run", "invoke"}
        return [
            [
                float(sum(w.strip(".,'[]?") in testing for w in t.lower().split())) + 0.01,
                float("pydantic" in t.lower() or "validat" in t.lower()),
            ]
            for t in texts
        ]

    paraphrase = "Invoke pytest at the top of the repository to execute the suite [1]."
    check = check_answer(paraphrase, PASSAGES, question=QUESTION, embed=embed)
    assert check.on_topic and check.grounded
    copy = check_answer(OFF_TOPIC, PASSAGES, question=QUESTION, embed=embed)
    assert copy.relevance is not None and copy.relevance < 0.4 and not copy.grounded


def test_when_no_passage_relates_to_the_question_relevance_is_not_judged() -> None:
    check = check_answer(OFF_TOPIC, PASSAGES, question="Where is the changelog?")
    assert check.relevance is None and check.on_topic and check.grounded


async def test_an_off_topic_copy_falls_back_to_the_extractive_answer_and_says_why() -> None:
    sources = [
        Source(chunk("docs/testing.md", PASSAGES[0]), score=0.8),
        Source(chunk("docs/bodies.md", PASSAGES[1]), score=0.6),
    ]
    log = MemoryInteractionLog()
    service = AnswerService(
        retriever=ListRetriever({"default": sources}),
        chat_model=ScriptedChatModel([OFF_TOPIC], name="small"),
        interaction_log=log,
        policy=AnswerPolicy(min_relevance=0.3, min_evidence=0.5, grounding=GroundingPolicy()),
    )
    answer = await service.answer(Question(QUESTION))
    assert answer.extractive and answer.model == EXTRACTIVE_MODEL and answer.routed_model == "small"
    assert answer.grounding is not None and answer.grounding.cause == OFF_TOPIC_CAUSE
    recorded = log.records[answer.interaction_id].to_record()["answer"]["grounding"]
    assert recorded["reason"].startswith("off topic: relevance to the question 0.00 below 0.40")
    assert recorded["cause"] == "off_topic" and recorded["support"] == 1.0


HEADERS = [PassageHeader("docs/testing.md", 1, 5), PassageHeader("docs/bodies.md", 10, 14)]


def test_a_line_that_names_a_passage_as_the_prompt_did_is_no_claim() -> None:
    answer = (
        "1. [1] docs/testing.md — Testing (lines 1-5)\n"
        "Run the test suite with pytest from the repository root."
    )
    check = check_answer(answer, PASSAGES, headers=HEADERS)
    assert check.grounded and check.invented_sources == 0
    assert [s.text for s in check.sentences] == [
        "Run the test suite with pytest from the repository root."
    ]


def test_a_line_that_names_a_source_the_prompt_did_not_show_is_an_invented_source() -> None:
    supported = "Run the test suite with pytest from the repository root [1]."
    for named in (
        "[3] docs/deploy.md — Deploying (lines 1-9)",  # no passage 3
        "[2] docs/testing.md — Testing (lines 1-5)",  # passage 1's file under number 2
        "[1] docs/testing.md — Testing (lines 40-60)",  # lines the prompt did not give
        "docs/deploy.md",  # a bare path that no passage heads or mentions
    ):
        check = check_answer(f"{named}\n\n{supported}", PASSAGES, headers=HEADERS)
        assert check.invented_sources == 1 and not check.grounded, named
        assert check.support == 1.0  # the rest is supported: the source alone sinks it


def test_a_bare_path_a_passage_mentions_or_heads_is_not_invented() -> None:
    passages = [PASSAGES[0] + " The settings live in conf/settings.toml.", PASSAGES[1]]
    for named in ("conf/settings.toml", "`docs/bodies.md`", "testing.md"):
        answer = f"{named}\n\nRun the test suite with pytest from the repository root [1]."
        assert check_answer(answer, passages, headers=HEADERS).grounded, named


def test_without_headers_a_source_line_is_neither_scored_nor_judged() -> None:
    answer = "[3] docs/deploy.md — Deploying (lines 1-9)\nRun the test suite with pytest [1]."
    check = check_answer(answer, PASSAGES)
    assert check.grounded and check.invented_sources == 0 and len(check.sentences) == 1


def test_an_answer_that_mostly_repeats_itself_is_not_sent() -> None:
    looping = "\n".join(f"{n}. Run the test suite with pytest [1]." for n in range(1, 6))
    check = check_answer(looping, PASSAGES, headers=HEADERS)
    assert check.repetitive and check.repeated == 4 and not check.grounded
    once = (
        "Run the test suite with pytest [1]. Install the test extra first [1]. "
        "Run the test suite with pytest [1]."
    )
    check = check_answer(once, PASSAGES, headers=HEADERS)
    assert check.repeated == 1 and not check.repetitive and check.grounded


async def test_an_answer_that_invents_a_source_falls_back_and_says_why() -> None:
    reply = (
        "[4] docs/ci.md — Continuous integration (lines 1-20)\n"
        "Run the test suite with pytest from the repository root [1]."
    )
    service, log = _service(reply, score=0.8)
    answer = await service.answer(Question("How do I run the tests?"))
    assert answer.extractive and "docs/ci.md" not in answer.text
    recorded = log.records[answer.interaction_id].to_record()["answer"]["grounding"]
    assert recorded["cause"] == INVENTED_SOURCE and recorded["reason"].startswith(
        "names 1 source the"
    )


async def test_a_looping_answer_falls_back_and_says_why() -> None:
    reply = "\n".join("- Use pytest from the repository root [1]." for _ in range(4))
    service, log = _service(reply, score=0.8)
    answer = await service.answer(Question("How do I run the tests?"))
    assert answer.extractive
    recorded = log.records[answer.interaction_id].to_record()["answer"]["grounding"]
    assert recorded["cause"] == REPETITIVE and recorded["reason"].startswith("3 lines")
