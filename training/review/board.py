"""A Label Studio project as the review loop's board: the labelling config, tasks, annotations.

Each task's data carries the interaction id, which is how re-exports find what is already
queued and how imported annotations find their interaction. Text fields are shown with
`<Text>` (never interpreted as HTML); the sources list is HTML built here with every value
escaped and only http(s) links.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from core.types import Turn
from training.review.label_studio import LabelStudioClient, LabelStudioError
from training.review.model import Review, ReviewItem, SourceLink, is_interaction_id

_log = logging.getLogger(__name__)

CORRECTION_FIELD = "corrected"
VERDICT_FIELD = "verdict"

LABEL_CONFIG = """<View>
  <Header value="Why this answer needs a review"/>
  <Text name="reason" value="$reason"/>
  <Text name="context" value="$context"/>
  <Header value="Earlier in the conversation"/>
  <Text name="conversation" value="$conversation"/>
  <Header value="Question"/>
  <Text name="question" value="$question"/>
  <Header value="Leximind's answer"/>
  <Text name="answer" value="$answer"/>
  <Header value="Sources the answer was built from"/>
  <HyperText name="sources" value="$sources_html" inline="true"/>
  <Header value="Was the answer right?"/>
  <Choices name="verdict" toName="answer" choice="single" showInline="true">
    <Choice value="Wrong"/>
    <Choice value="Fine"/>
  </Choices>
  <Header value="Corrected answer: what Leximind should have said (leave empty if it was fine)"/>
  <TextArea name="corrected" toName="answer" rows="8" maxSubmissions="1" editable="true"/>
</View>
"""

DESCRIPTION = (
    "Answers users marked as unhelpful, and questions Leximind declined to answer. Write the "
    "answer it should have given; corrected answers become training data."
)


class LabelStudioBoard:
    """Implements training.review.loop.ReviewBoard on one Label Studio project."""

    def __init__(self, client: LabelStudioClient, project_id: int) -> None:
        self._client = client
        self.project_id = project_id

    @classmethod
    def open(cls, client: LabelStudioClient, project: str) -> LabelStudioBoard:
        """The project named by id (digits) or title; a missing title is created.

        Raises LabelStudioError when an id names no project, or when the project's labelling
        config has no TextArea named `corrected` (it is not a Leximind review project).
        """
        if project.isdigit():
            found = client.project(int(project))
            if found is None:
                raise LabelStudioError(f"Label Studio has no project with id {project}")
        else:
            found = client.find_project(project) or client.create_project(
                title=project, label_config=LABEL_CONFIG, description=DESCRIPTION
            )
        config = str(found.get("label_config") or "")
        if f'name="{CORRECTION_FIELD}"' not in config:
            raise LabelStudioError(
                f"Label Studio project {project!r} has no TextArea named {CORRECTION_FIELD!r}: "
                "it is not a Leximind review project; name another one in "
                "LEXIMIND_LABEL_STUDIO__PROJECT"
            )
        project_id = found.get("id")
        if not isinstance(project_id, int):
            raise LabelStudioError(f"Label Studio returned a project without an id: {found}")
        return cls(client, project_id)

    def queued(self) -> set[str]:
        ids = (_interaction_id(t) for t in self._client.tasks(self.project_id))
        return {i for i in ids if i}

    def add(self, items: Sequence[ReviewItem]) -> int:
        tasks = [{"data": task_data(item)} for item in items]
        return self._client.import_tasks(self.project_id, tasks)

    def reviews(self) -> Iterator[Review]:
        users: dict[int, str] | None = None
        for task in self._client.tasks(self.project_id, fields="all"):
            annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
            if annotations and users is None:
                users = self._users()
            for annotation in annotations:
                yield review_from(task, annotation, users or {})

    def _users(self) -> dict[int, str]:
        try:
            return self._client.users()
        except LabelStudioError as exc:  # a token that may not list users: ids will do
            _log.info("cannot list Label Studio users (%s); annotators shown by id", exc)
            return {}


def task_data(item: ReviewItem) -> dict[str, str]:
    """The task's `data`; its keys are the `$names` of LABEL_CONFIG plus `interaction_id`."""
    where = " · ".join(
        part
        for part in (
            f"knowledge base {item.kb}" if item.kb else "",
            item.platform,
            f"model {item.model}" if item.model else "",
            f"asked {item.asked_at}",
            f"interaction {item.interaction_id}",
        )
        if part
    )
    return {
        "interaction_id": item.interaction_id,
        "reason": "; ".join(item.reasons),
        "context": where,
        "conversation": conversation_text(item.history),
        "question": item.question,
        "answer": item.answer,
        "sources_html": sources_html(item.sources),
    }


def conversation_text(history: Sequence[Turn]) -> str:
    """Earlier turns as plain text, or a note that there were none."""
    if not history:
        return "(none: this was the first question)"
    return "\n\n".join(f"Q: {t.question}\nA: {t.answer}" for t in history)


def sources_html(sources: Sequence[SourceLink]) -> str:
    """The cited passages as an HTML list: linked path, title, lines and the passage's start."""
    if not sources:
        return "<p>(no sources)</p>"
    rows = []
    for n, source in enumerate(sources, start=1):
        path = html.escape(source.path)
        if source.url and source.url.startswith(("https://", "http://")):
            href = html.escape(source.url, quote=True)
            path = f'<a href="{href}" target="_blank" rel="noopener noreferrer">{path}</a>'
        lines = (
            f" (lines {source.start_line}–{source.end_line})"
            if source.start_line and source.end_line
            else ""
        )
        title = f" — {html.escape(source.title)}" if source.title else ""
        excerpt = f"<br/><small>{html.escape(source.excerpt)}</small>" if source.excerpt else ""
        rows.append(f"<li>[{n}] {path}{title}{lines}{excerpt}</li>")
    return "<ol>" + "".join(rows) + "</ol>"


def review_from(task: dict[str, Any], annotation: dict[str, Any], users: dict[int, str]) -> Review:
    """A Review from one annotation of one task (a task not made by Leximind gets id "")."""
    corrected: list[str] = []
    verdict: str | None = None
    for result in annotation.get("result") or []:
        if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
            continue
        value = result["value"]
        if result.get("from_name") == CORRECTION_FIELD:
            texts = value.get("text")
            corrected += [str(t) for t in texts] if isinstance(texts, list) else [str(texts)]
        elif result.get("from_name") == VERDICT_FIELD and value.get("choices"):
            verdict = str(value["choices"][0]).lower()
    user = annotation.get("completed_by")
    user_id = user.get("id") if isinstance(user, dict) else user
    return Review(
        interaction_id=_interaction_id(task),
        task_id=int(task.get("id") or 0),
        review_id=int(annotation.get("id") or 0),
        annotator=users.get(user_id, f"user {user_id}") if isinstance(user_id, int) else "",
        updated_at=str(annotation.get("updated_at") or annotation.get("created_at") or ""),
        skipped=bool(annotation.get("was_cancelled")),
        corrected="\n".join(corrected).replace("\r\n", "\n").strip(),
        verdict=verdict,
    )


def _interaction_id(task: dict[str, Any]) -> str:
    data = task.get("data")
    value = data.get("interaction_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and is_interaction_id(value) else ""
