"""The review loop against a real Label Studio: export, annotate, import, all without duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from core.types import FeedbackLabel, Turn
from tests.support.label_studio import LabelStudioServer
from tests.support.review import (
    annotate,
    interaction,
    project_tasks,
    store_feedback,
    store_interaction,
)
from tests.support.vllm_server import free_port
from training.review.board import LabelStudioBoard
from training.review.label_studio import (
    LabelStudioClient,
    LabelStudioError,
    LabelStudioUnavailable,
)
from training.review.loop import export_for_review, import_corrections

pytestmark = pytest.mark.label_studio


def client_for(server: LabelStudioServer, *, token: str | None = None) -> LabelStudioClient:
    return LabelStudioClient(url=server.url, token=token or server.token, timeout=30.0)


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    """Four interactions: one disliked, one abstained, one liked, one disliked then retracted."""
    store = LocalObjectStore(tmp_path / "data")
    conversation = (Turn("What is FastAPI?", "A web framework."),)
    store_interaction(store, interaction("disliked", history=conversation))
    store_interaction(store, interaction("abstained", abstained=True, answer="I don't know."))
    store_interaction(store, interaction("liked"))
    store_interaction(store, interaction("retracted", day="2026-11-21"))
    store_feedback(store, "disliked", "u1", FeedbackLabel.NEGATIVE)
    store_feedback(store, "disliked", "u2", FeedbackLabel.POSITIVE)
    store_feedback(store, "liked", "u1", FeedbackLabel.POSITIVE)
    store_feedback(store, "retracted", "u1", None)
    return store


def test_export_annotate_import_round_trip(
    label_studio: LabelStudioServer, store: LocalObjectStore
) -> None:
    """Negative and abstained answers become tasks once; the latest correction is stored once."""
    with client_for(label_studio) as client:
        board = LabelStudioBoard.open(client, "round trip")
        first = export_for_review(store, board)
        again = export_for_review(store, LabelStudioBoard.open(client, "round trip"))

    assert (first.exported, first.already_queued) == (2, 0)
    assert (again.exported, again.already_queued) == (0, 2)
    with label_studio.client() as reviewer:
        tasks = {t["data"]["interaction_id"]: t for t in project_tasks(reviewer, board.project_id)}
        assert sorted(tasks) == ["abstained", "disliked"]
        data = tasks["disliked"]["data"]
        assert data["question"] == "How do I enable CORS?"
        assert data["answer"] == "Use CORSMiddleware [1]."
        assert data["reason"] == "negative feedback from 1 user"
        assert "Q: What is FastAPI?" in data["conversation"]
        assert (
            'href="https://github.com/o/r/blob/c0ffee/docs/tutorial/cors.md#L3-L9"'
            in (data["sources_html"])
        )
        assert tasks["abstained"]["data"]["reason"] == "abstained"

        annotate(
            reviewer, tasks["disliked"]["id"], corrected="Add CORSMiddleware.", verdict="Wrong"
        )
        annotate(
            reviewer,
            tasks["disliked"]["id"],
            corrected="  Add CORSMiddleware, then list origins.  ",
        )
        annotate(reviewer, tasks["abstained"]["id"], skipped=True)
        annotate(reviewer, tasks["abstained"]["id"], verdict="Fine")

    with client_for(label_studio) as client:
        board = LabelStudioBoard.open(client, "round trip")
        imported = import_corrections(store, board)
        reimported = import_corrections(store, board)

    assert (imported.imported, imported.skipped, imported.empty) == (1, 1, 1)
    assert (reimported.imported, reimported.updated, reimported.unchanged) == (0, 0, 1)
    assert list(store.list("corrections/")) == ["corrections/disliked.json"]
    record = json.loads(store.get("corrections/disliked.json"))
    assert record["answer"] == "Add CORSMiddleware, then list origins."
    assert record["annotator"] == label_studio.username
    assert record["task_id"] == tasks["disliked"]["id"] and record["created_at"]


def test_corrected_interactions_are_not_sent_again(
    label_studio: LabelStudioServer, store: LocalObjectStore
) -> None:
    """An interaction that already has a correction gets no task in a new project."""
    store.put("corrections/disliked.json", b'{"interaction_id": "disliked", "answer": "x"}')
    with client_for(label_studio) as client:
        report = export_for_review(store, LabelStudioBoard.open(client, "after corrections"))
    assert (report.exported, report.already_corrected) == (1, 1)


def test_project_by_id_and_foreign_projects(label_studio: LabelStudioServer) -> None:
    """A project id that does not exist, or a project with another config, is refused."""
    with client_for(label_studio) as client:
        made = LabelStudioBoard.open(client, "by id")
        assert LabelStudioBoard.open(client, str(made.project_id)).project_id == made.project_id
        with pytest.raises(LabelStudioError, match="no project with id 99999"):
            LabelStudioBoard.open(client, "99999")
        client.create_project(
            title="someone else's",
            label_config='<View><Text name="t" value="$t"/></View>',
            description="",
        )
        with pytest.raises(LabelStudioError, match="not a Leximind review project"):
            LabelStudioBoard.open(client, "someone else's")


def test_bad_token_is_a_clear_error(label_studio: LabelStudioServer) -> None:
    """A wrong token fails with a message naming the setting, and the token is not echoed."""
    wrong = "0" * 40
    with client_for(label_studio, token=wrong) as client, pytest.raises(LabelStudioError) as err:
        LabelStudioBoard.open(client, "never made")
    message = str(err.value)
    assert "refused the token (401" in message and "LEXIMIND_LABEL_STUDIO__TOKEN" in message
    assert wrong not in message


def test_server_down_is_a_clear_error() -> None:
    """Nothing listening at the URL: a ServiceUnavailable that names the URL."""
    url = f"http://127.0.0.1:{free_port()}"
    with (
        LabelStudioClient(url=url, token="t" * 40, timeout=5.0) as client,
        pytest.raises(LabelStudioUnavailable, match=f"cannot reach Label Studio at {url}"),
    ):
        LabelStudioBoard.open(client, "anything")
