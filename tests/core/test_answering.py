"""AnswerService retrieves, abstains on weak evidence, generates or extracts, and records."""

from __future__ import annotations

import pytest

from core.answering import AnswerPolicy, AnswerService
from core.errors import InvalidQuestion, ModelUnavailable, UnknownKnowledgeBase
from core.types import (
    AnswerDone,
    AnswerEvent,
    ChunkKind,
    Question,
    Source,
    SourcesFound,
    TextDelta,
    Turn,
)
from tests.fakes import (
    ListRetriever,
    MemoryInteractionLog,
    ScriptedChatModel,
    StreamingScriptedChatModel,
    chunk,
)

STRONG = [
    Source(
        chunk(
            "docs/testing.md",
            "# Testing\n\nRun the tests with `make test`. It installs what the tests need.",
            title="Testing",
        ),
        0.71,
        "https://github.com/o/r/blob/c0ffee/docs/testing.md#L1-L5",
    ),
    Source(
        chunk("Makefile.md", "The test target runs pytest after building the venv.", title="Make"),
        0.52,
    ),
]
WEAK = [Source(chunk("docs/intro.md", "Leximind answers questions.", title="Intro"), 0.12)]


def service(
    model: ScriptedChatModel | None = None, sources: list[Source] | None = None
) -> tuple[AnswerService, MemoryInteractionLog, ListRetriever]:
    log = MemoryInteractionLog()
    retriever = ListRetriever({"default": sources if sources is not None else STRONG})
    svc = AnswerService(
        retriever=retriever,
        chat_model=model,
        interaction_log=log,
        policy=AnswerPolicy(min_relevance=0.3),
    )
    return svc, log, retriever


async def test_model_answer_with_sources_and_record() -> None:
    """A configured model's text is returned with every retrieved source, and recorded."""
    model = ScriptedChatModel(["Run `make test` [1]."], name="lora-v1")
    svc, log, _ = service(model)
    answer = await svc.answer(Question(text="  How do I run the tests? "))
    assert answer.text == "Run `make test` [1]."
    assert answer.model == "lora-v1"
    assert not answer.extractive and not answer.abstained
    assert [s.path for s in answer.sources] == ["docs/testing.md", "Makefile.md"]
    assert 0 < answer.confidence <= 1
    assert log.records[answer.interaction_id].answer == answer
    prompt = model.prompts[0][-1].content
    assert "[1] docs/testing.md" in prompt and "Question: How do I run the tests?" in prompt


async def test_falls_back_to_extractive_when_model_unavailable() -> None:
    """A model failure yields an extractive, cited answer instead of an error."""
    svc, _, _ = service(ScriptedChatModel([ModelUnavailable("connection refused")]))
    answer = await svc.answer(Question(text="How do I run the tests?"))
    assert answer.extractive and answer.model == "extractive"
    assert "make test" in answer.text and "[1]" in answer.text


async def test_extractive_without_model() -> None:
    """With no model configured, the answer is extractive."""
    svc, _, _ = service(None)
    answer = await svc.answer(Question(text="How do I run the tests?"))
    assert answer.extractive and not answer.abstained


async def test_empty_model_reply_falls_back() -> None:
    """A blank completion is not passed on as an answer."""
    svc, _, _ = service(ScriptedChatModel(["   "]))
    answer = await svc.answer(Question(text="How do I run the tests?"))
    assert answer.extractive


async def test_abstains_on_weak_evidence_and_points_to_closest() -> None:
    """Below the relevance threshold the service says it does not know, without the model."""
    model = ScriptedChatModel([])
    svc, log, _ = service(model, WEAK)
    answer = await svc.answer(Question(text="What is the airspeed of a swallow?"))
    assert answer.abstained and answer.model == "abstained"
    assert "don't know" in answer.text and "docs/intro.md" in answer.text
    assert answer.confidence == 0.0
    assert model.prompts == []
    assert answer.interaction_id in log.records


async def test_abstains_when_nothing_found() -> None:
    """No passages at all is an abstention too."""
    svc, _, _ = service(None, [])
    answer = await svc.answer(Question(text="anything"))
    assert answer.abstained and answer.sources == ()


@pytest.mark.parametrize("text", ["", "   \n\t", "x" * 2001])
async def test_rejects_unusable_questions(text: str) -> None:
    """Empty, whitespace-only and over-long questions raise InvalidQuestion."""
    svc, _, _ = service(None)
    with pytest.raises(InvalidQuestion):
        await svc.answer(Question(text=text))


async def test_unknown_knowledge_base() -> None:
    """A knowledge base nobody indexed is an error, not an empty answer."""
    svc, _, _ = service(None)
    with pytest.raises(UnknownKnowledgeBase):
        await svc.answer(Question(text="hi there", kb="nope"))


async def test_follow_up_carries_history() -> None:
    """Earlier turns go into the prompt, and the retrieval query includes the last question."""
    model = ScriptedChatModel(["Use `-k` [1]."])
    svc, _, retriever = service(model)
    history = (Turn("How do I run the tests?", "Run `make test` [1]."),)
    await svc.answer(Question(text="And only one of them?", history=history))
    roles = [m.role for m in model.prompts[0]]
    assert roles == ["system", "user", "assistant", "user"]
    assert retriever.queries[-1] == "How do I run the tests?\nAnd only one of them?"


async def test_code_sources_quoted_as_code() -> None:
    """The extractive answer shows a code passage as a fenced excerpt with its name."""
    code = Source(
        chunk(
            "app/settings.py",
            "def load_settings():\n    return Settings()",
            title="load_settings",
            kind=ChunkKind.CODE,
        ),
        0.6,
    )
    svc, _, _ = service(None, [code])
    answer = await svc.answer(Question(text="Where are settings loaded?"))
    assert "`load_settings` in `app/settings.py` [1]" in answer.text
    assert "```python\ndef load_settings():" in answer.text


async def _events(svc: AnswerService, question: Question) -> list[AnswerEvent]:
    return [event async for event in svc.answer_stream(question)]


async def test_stream_sends_sources_then_pieces_then_the_recorded_answer() -> None:
    """A streaming model's pieces arrive after the sources; the last event is the recorded
    answer whose text is the pieces joined."""
    model = StreamingScriptedChatModel([["Run ", "`make test`", " [1]."]], name="lora-v1")
    svc, log, _ = service(model)
    events = await _events(svc, Question(text="How do I run the tests?"))
    first, *pieces, last = events
    assert isinstance(first, SourcesFound) and not first.abstaining
    assert [s.path for s in first.sources] == ["docs/testing.md", "Makefile.md"]
    assert [p.text for p in pieces if isinstance(p, TextDelta)] == ["Run ", "`make test`", " [1]."]
    assert isinstance(last, AnswerDone) and not last.replaced
    assert last.answer.text == "Run `make test` [1]." and last.answer.model == "lora-v1"
    assert log.records[last.answer.interaction_id].answer == last.answer


async def test_stream_extractive_and_abstention_come_as_one_piece() -> None:
    """Without a model the extractive answer is one piece; weak evidence one decline."""
    svc, _, _ = service(None)
    events = await _events(svc, Question(text="How do I run the tests?"))
    assert [type(e) for e in events] == [SourcesFound, TextDelta, AnswerDone]
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.answer.extractive
    assert isinstance(events[1], TextDelta) and events[1].text == done.answer.text

    svc, _, _ = service(StreamingScriptedChatModel([]), sources=WEAK)
    events = await _events(svc, Question(text="What is the airspeed of a swallow?"))
    assert isinstance(events[0], SourcesFound) and events[0].abstaining
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.answer.abstained
    assert [type(e) for e in events] == [SourcesFound, TextDelta, AnswerDone]


async def test_stream_failure_midway_replaces_the_text_with_the_extractive_answer() -> None:
    """A model that breaks off after some pieces ends with `replaced` and an extractive
    answer; one that fails at once gives the extractive answer as its only piece."""
    broken = ModelUnavailable("connection reset")
    svc, _, _ = service(StreamingScriptedChatModel([["Run ", broken], [broken]]))
    events = await _events(svc, Question(text="How do I run the tests?"))
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.replaced and done.answer.extractive
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Run "]

    events = await _events(svc, Question(text="How do I run the tests?"))
    done = events[-1]
    assert isinstance(done, AnswerDone) and not done.replaced and done.answer.extractive
    assert [e.text for e in events if isinstance(e, TextDelta)] == [done.answer.text]
