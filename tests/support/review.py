"""Interactions and feedback written to an object store, and annotations made as a reviewer."""

from __future__ import annotations

import json
from typing import Any

import httpx

from core.object_keys import feedback_key, interaction_key
from core.ports import ObjectStore
from core.types import (
    Answer,
    Feedback,
    FeedbackLabel,
    Interaction,
    Question,
    Source,
    Timings,
    Turn,
)
from tests.fakes import chunk


def interaction(
    interaction_id: str,
    *,
    abstained: bool = False,
    day: str = "2026-11-20",
    question: str = "How do I enable CORS?",
    answer: str = "Use CORSMiddleware [1].",
    history: tuple[Turn, ...] = (),
) -> Interaction:
    """An answered question with one cited source that has a permalink."""
    source = Source(
        chunk=chunk(
            "docs/tutorial/cors.md", "Add CORSMiddleware with allow_origins.", lines=(3, 9)
        ),
        score=0.71,
        url="https://github.com/o/r/blob/c0ffee/docs/tutorial/cors.md#L3-L9",
    )
    return Interaction(
        id=interaction_id,
        created_at=f"{day}T10:00:00.000+00:00",
        question=Question(
            text=question, kb="docs", history=history, platform="slack", user_hash="u" * 16
        ),
        answer=Answer(
            text=answer,
            sources=(source,),
            confidence=0.7,
            abstained=abstained,
            model="extractive",
            extractive=True,
            timings=Timings(),
            interaction_id=interaction_id,
        ),
    )


def store_interaction(store: ObjectStore, item: Interaction) -> None:
    store.put(interaction_key(item.id, item.created_at), json.dumps(item.to_record()).encode())


def store_feedback(
    store: ObjectStore,
    interaction_id: str,
    user: str,
    label: FeedbackLabel | None,
) -> None:
    """The current label of one user on one answer (None: a retracted reaction)."""
    record = Feedback(
        interaction_id=interaction_id,
        platform="slack",
        user_hash=user,
        emoji="-1" if label is FeedbackLabel.NEGATIVE else "+1",
        label=label,
        created_at="2026-11-21T10:00:00Z",
    ).to_record()
    store.put(feedback_key(interaction_id, user), json.dumps(record).encode())


def annotate(
    client: httpx.Client,
    task_id: int,
    *,
    corrected: str | None = None,
    verdict: str | None = None,
    skipped: bool = False,
) -> dict[str, Any]:
    """Submits an annotation through the REST API, as the labelling UI does on Submit/Skip."""
    result: list[dict[str, Any]] = []
    if verdict:
        result.append(
            {
                "from_name": "verdict",
                "to_name": "answer",
                "type": "choices",
                "value": {"choices": [verdict]},
            }
        )
    if corrected is not None:
        result.append(
            {
                "from_name": "corrected",
                "to_name": "answer",
                "type": "textarea",
                "value": {"text": [corrected]},
            }
        )
    response = client.post(
        f"/api/tasks/{task_id}/annotations", json={"result": result, "was_cancelled": skipped}
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def project_tasks(client: httpx.Client, project_id: int) -> list[dict[str, Any]]:
    """Every task of a project with its data, read straight from the API."""
    response = client.get(
        "/api/tasks", params={"project": project_id, "page_size": 1000, "fields": "all"}
    )
    response.raise_for_status()
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks
