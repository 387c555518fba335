"""The smoke question a freshly loaded adapter must answer through the core before it serves.

The question goes through AnswerService exactly as a user's would (retrieval, the serving
prompt, the chat model pinned to the new adapter's name). When retrieval gives the model
nothing to answer from (no knowledge base yet, or weak evidence, so the service abstains
without calling it), the model is asked the same question with the serving prompt directly.
"""

from __future__ import annotations

import logging

from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from core.answering import AnswerPolicy, AnswerService
from core.errors import ModelUnavailable, StoreUnavailable, UnknownKnowledgeBase
from core.ports import InteractionLog, Retriever
from core.prompting import build_messages
from core.types import Question
from training.errors import DeploymentError
from training.evaluation import ModelEndpoint

_log = logging.getLogger(__name__)

SMOKE_PLATFORM = "smoke"


class AnswerSmokeTest:
    """Implements training.deploy.SmokeTest: one question through AnswerService.

    The smoke answer is recorded in the interaction log like any other, with the platform
    `smoke`, so it can be looked at later.
    """

    def __init__(
        self,
        *,
        endpoint: ModelEndpoint,
        retriever: Retriever,
        interaction_log: InteractionLog,
        policy: AnswerPolicy,
        question: str,
        kb: str | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._retriever = retriever
        self._log = interaction_log
        self._policy = policy
        self._question = question
        self._kb = kb or policy.default_kb

    async def __call__(self, model: str) -> str:
        """The adapter's answer; raises DeploymentError unless `model` itself answered."""
        e = self._endpoint
        async with OpenAICompatibleChatModel(
            base_url=e.base_url,
            model=model,
            api_key=e.api_key,
            timeout=e.timeout,
            max_tokens=e.max_tokens,
            temperature=e.temperature,
        ) as chat:
            try:
                await chat.check()
                text, answered_by = await self._ask(chat)
            except ModelUnavailable as exc:
                raise DeploymentError(f"smoke question to {model} failed: {exc}") from exc
        if answered_by != model:
            raise DeploymentError(
                f"smoke question to {model} was answered by {answered_by!r} instead "
                "(the model failed; see the log)"
            )
        if not text.strip():
            raise DeploymentError(f"smoke question to {model} got an empty answer")
        _log.info("smoke question answered by %s: %.80s", model, text)
        return text

    async def _ask(self, chat: OpenAICompatibleChatModel) -> tuple[str, str]:
        service = AnswerService(
            retriever=self._retriever,
            chat_model=chat,
            interaction_log=self._log,
            policy=self._policy,
        )
        question = Question(text=self._question, kb=self._kb, platform=SMOKE_PLATFORM)
        try:
            answer = await service.answer(question)
        except (UnknownKnowledgeBase, StoreUnavailable) as exc:
            _log.info("smoke question cannot retrieve (%s); asking the model directly", exc)
        else:
            if not answer.abstained:
                return answer.text, answer.model
            _log.info("smoke question abstained for lack of evidence; asking the model directly")
        completion = await chat.complete(build_messages(self._question, [], project=self._kb))
        return completion.text, completion.model
