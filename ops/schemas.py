"""The JSON shapes of questions, answers and sources, shared by the HTTP API and the CLI."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.types import Answer, Source


class TurnIn(BaseModel):
    question: str = Field(max_length=20_000)
    answer: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    question: str = Field(description="the question, in plain language")
    kb: str | None = Field(None, description="knowledge base; the default one when omitted")
    history: list[TurnIn] = Field(
        default_factory=list, max_length=50, description="earlier turns, oldest first"
    )
    user: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="who asks, as the caller knows them; stored only as a keyed hash, it keeps "
        "a user on the same model during a staged rollout",
    )


class SearchRequest(BaseModel):
    question: str
    k: int = Field(5, ge=1, le=50)
    kb: str | None = None


class SourceOut(BaseModel):
    path: str
    title: str
    url: str | None
    score: float
    start_line: int
    end_line: int
    commit: str
    snippet: str


class AskResponse(BaseModel):
    answer: str
    sources: list[SourceOut]
    abstained: bool
    confidence: float
    model: str
    extractive: bool
    interaction_id: str
    timings: dict[str, float]


class SearchResponse(BaseModel):
    sources: list[SourceOut]


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
    )
