"""The JSON shapes of questions, answers and sources, shared by the HTTP API and the CLI.

The request models are strict about what they take, and their JSON Schema says so: the
OpenAPI document is the contract that `tests/ops/test_api_contract.py` checks the server
against with Schemathesis. Lone surrogates, which JSON Schema cannot express, are refused too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from core.memory import MemoryHit, lead
from core.text import KB_NAME_MAX, KB_NAME_PATTERN, validate_kb_name, validate_text
from core.types import Answer, Source

MAX_QUESTION_CHARS = 2000  # the default of LEXIMIND_ANSWER__MAX_QUESTION_CHARS
MAX_TURN_CHARS = 20_000
MAX_HISTORY_TURNS = 50
MAX_K = 50

_QUESTION = r"\S"  # JSON Schema patterns are not anchored: some character not white space


def _is_text(value: str) -> str:
    return validate_text(value, what="the text")


def _is_question(value: str) -> str:
    if not value.strip():
        raise ValueError("the question is empty")
    return validate_text(value, what="the question")


def _json_integer(value: object) -> object:
    """A JSON number as it is, or ValueError: no string or boolean passes as an integer."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON integer, not a string or a boolean")
    return value


Text = Annotated[str, AfterValidator(_is_text)]
QuestionText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description=f"the question, in plain language: 1-{MAX_QUESTION_CHARS} characters, "
        "not only white space",
        json_schema_extra={"pattern": _QUESTION},
    ),
    AfterValidator(_is_question),
]
# The CLI's check (validate_kb_name) does the validating; the schema only states it.
KnowledgeBase = Annotated[
    str,
    Field(
        description="knowledge base; the default one when omitted",
        json_schema_extra={"minLength": 1, "maxLength": KB_NAME_MAX, "pattern": KB_NAME_PATTERN},
    ),
    AfterValidator(validate_kb_name),
]
# 3 and 3.0 are the same JSON number; "3" and true are not numbers.
PassageCount = Annotated[
    int,
    Field(ge=1, le=MAX_K, description=f"how many passages, 1-{MAX_K}"),
    BeforeValidator(_json_integer),
]


class ErrorOut(BaseModel):
    """Every error the API answers with: one human-readable sentence."""

    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


BODY_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: _error("the request body is over the size limit (1,000,000 bytes)")
}
QUESTION_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("the request body is not valid JSON"),
    404: _error("no knowledge base of that name has been indexed"),
    **BODY_TOO_LARGE,
    422: _error("the request is invalid; the detail says which field and why"),
    503: _error("the vector store or the object store is unavailable"),
}


class TurnIn(BaseModel):
    question: Annotated[Text, Field(max_length=MAX_TURN_CHARS)]
    answer: Annotated[Text, Field(max_length=MAX_TURN_CHARS)]


class AskRequest(BaseModel):
    question: QuestionText
    kb: KnowledgeBase | None = None
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="earlier turns, oldest first",
    )
    user: Annotated[Text, Field(min_length=1, max_length=200)] | None = Field(
        None,
        description="who asks, as the caller knows them; stored only as a keyed hash, it keeps "
        "a user on the same model during a staged rollout",
    )


class SearchRequest(BaseModel):
    question: QuestionText
    k: PassageCount = 5
    kb: KnowledgeBase | None = None


class SourceOut(BaseModel):
    path: str
    title: str
    url: str | None
    score: float
    start_line: int
    end_line: int
    commit: str
    snippet: str


class MemoryOut(BaseModel):
    """The endorsed answer to a similar question that leads the answer (core.memory)."""

    lead: str
    question: str
    source: str
    endorsed_at: str
    link: str | None
    asked_before: str | None
    score: float


class AskResponse(BaseModel):
    answer: str
    sources: list[SourceOut]
    abstained: bool
    confidence: float
    model: str
    extractive: bool
    interaction_id: str
    timings: dict[str, float]
    memory: MemoryOut | None = None


class SearchResponse(BaseModel):
    sources: list[SourceOut]


class HealthOut(BaseModel):
    """/healthz: the overall status, then what each backend said, in words."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "unavailable"]
    knowledge_bases: list[str]
    store: str
    model: str
    spool_depth: int
    spool_rejected: int
    object_store: str


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": HealthOut, "description": "ok, or degraded: the model or object store is down"},
    503: {"model": HealthOut, "description": "the vector store is unavailable; the same report"},
}


def source_out(source: Source) -> SourceOut:
    c = source.chunk
    return SourceOut(
        path=c.path,
        title=c.title,
        url=source.url,
        score=source.score,
        start_line=c.start_line,
        end_line=c.end_line,
        commit=c.commit,
        snippet=source.snippet(),
    )


def memory_out(hit: MemoryHit) -> MemoryOut:
    e = hit.entry
    return MemoryOut(
        lead=lead(hit),
        question=e.question,
        source=e.source.value,
        endorsed_at=e.endorsed_at,
        link=e.link,
        asked_before=hit.asked_before,
        score=hit.score,
    )


def ask_response(answer: Answer) -> AskResponse:
    t = answer.timings
    return AskResponse(
        answer=answer.text,
        sources=[source_out(s) for s in answer.sources],
        abstained=answer.abstained,
        confidence=answer.confidence,
        model=answer.model,
        extractive=answer.extractive,
        interaction_id=answer.interaction_id,
        timings={"retrieval": t.retrieval, "generation": t.generation, "total": t.total},
        memory=memory_out(answer.memory) if answer.memory else None,
    )
