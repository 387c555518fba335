"""AnswerService during a staged rollout: each question is asked of the model its user is
routed to, and the answer records that model also when it abstains or falls back."""

from __future__ import annotations

from pathlib import Path

from adapters.llm.active_model import FileActiveModel
from bots.identity import UserHasher
from core.answering import AnswerPolicy, AnswerService
from core.errors import ModelUnavailable
from core.types import Question, Source
from tests.fakes import ListRetriever, MemoryInteractionLog, ScriptedChatModel, chunk

HASH = UserHasher(b"k" * 32)
USERS = [HASH("slack", f"u{n}") for n in range(40)]
PASSAGE = Source(chunk("docs/start.md", "Install with pip, test with pytest."), score=0.8)


def service(
    tmp_path: Path, chat: ScriptedChatModel, *, score: float = 0.8
) -> tuple[AnswerService, FileActiveModel, MemoryInteractionLog]:
    rollout = FileActiveModel(tmp_path / "active_model.json")
    log = MemoryInteractionLog()
    answers = AnswerService(
        retriever=ListRetriever({"default": [Source(PASSAGE.chunk, score=score)]}),
        chat_model=chat,
        interaction_log=log,
        policy=AnswerPolicy(min_relevance=0.3),
        rollout=rollout,
    )
    return answers, rollout, log


async def test_each_user_is_answered_by_the_model_they_are_routed_to(tmp_path: Path) -> None:
    """With a canary at 50%, both models answer, each user always gets the same one, and the
    recorded interaction names it."""
    chat = ScriptedChatModel(
        ["Install it with pip and test it with pytest [1]."] * (2 * len(USERS)), name="base-model"
    )
    answers, rollout, log = service(tmp_path, chat)
    await rollout.switch("v1")
    await rollout.stage("v2", 0.5)
    first = [await answers.answer(Question("How?", user_hash=u)) for u in USERS]
    second = [await answers.answer(Question("How?", user_hash=u)) for u in USERS]
    assert [a.model for a in first] == [a.model for a in second]
    assert {a.model for a in first} == {"v1", "v2"}
    assert chat.asked == [a.model for a in first + second]
    assert all(a.routed_model == a.model for a in first)
    recorded = log.records[first[0].interaction_id].to_record()["answer"]
    assert recorded["model"] == recorded["routed_model"] == first[0].model


async def test_questions_without_a_user_go_to_the_champion(tmp_path: Path) -> None:
    chat = ScriptedChatModel(
        ["Install it with pip and test it with pytest [1]."], name="base-model"
    )
    answers, rollout, _ = service(tmp_path, chat)
    await rollout.stage("v2", 1.0)  # no champion switched yet: the configured base model
    answer = await answers.answer(Question("How?"))
    assert chat.asked == ["base-model"] and answer.routed_model == "base-model"


async def test_abstentions_and_fallbacks_keep_the_routed_model(tmp_path: Path) -> None:
    """A failed challenger answers extractively and an abstention asks no model; both still
    name the challenger they were routed to."""
    chat = ScriptedChatModel([ModelUnavailable("v2 is down")], name="base-model")
    answers, rollout, _ = service(tmp_path, chat)
    await rollout.switch("v1")
    await rollout.stage("v2", 1.0)
    fallback = await answers.answer(Question("How?", user_hash=USERS[0]))
    assert (fallback.model, fallback.routed_model) == ("extractive", "v2")

    weak, rollout, _ = service(tmp_path, ScriptedChatModel([]), score=0.1)
    abstained = await weak.answer(Question("How?", user_hash=USERS[0]))
    assert abstained.abstained and abstained.routed_model == "v2"
