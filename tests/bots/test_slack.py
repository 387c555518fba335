"""Slack in HTTP mode: signed events on `leximind serve`, answered through Bolt and a fake API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bots.rendering import FAILED, FEEDBACK_HINT, RATE_LIMITED
from bots.slack.threads import NOT_IN_CHANNEL, PLACEHOLDER, USAGE
from ops.api import create_app
from ops.settings import BotSettings, EmbeddingSettings, Settings, SlackSettings
from tests.bots.slack_fake import (
    BOT_TOKEN,
    BOT_USER,
    README_URL,
    ROUTES,
    SIGNING_SECRET,
    SOURCES,
    EchoModel,
    FakeSlack,
    FlakyFeedbackLog,
    Retriever,
    command_body,
    event_body,
    mention,
    reaction,
    serve_fake_slack,
    sign,
    stored,
    with_fake_core,
)
from tests.support.polling import wait_until


@dataclass
class Harness:
    """A running `leximind serve` app, the fake Slack behind it, and what the core saw."""

    client: TestClient
    slack: FakeSlack
    model: EchoModel
    retriever: Retriever
    settings: Settings
    response_url: str

    def event(self, event: dict[str, Any], *, event_id: str, **headers: str) -> httpx.Response:
        body = event_body(event, event_id=event_id, team=str(event.get("team", "T1")))
        headers = {**sign(body), "Content-Type": "application/json", **headers}
        return self.client.post("/slack/events", content=body, headers=headers)

    def command(self, text: str, *, channel: str = "C1", trigger: str = "trig-1") -> httpx.Response:
        body = command_body(text, channel=channel, response_url=self.response_url, trigger=trigger)
        headers = {**sign(body), "Content-Type": "application/x-www-form-urlencoded"}
        return self.client.post("/slack/events", content=body, headers=headers)

    def ask(self, text: str, *, channel: str = "C1", event_id: str = "Ev1", **kw: Any) -> str:
        """A person's mention delivered as an event; returns the stored message's ts."""
        message = self.slack.post_as_user(channel, f"<@{BOT_USER}> {text}", **kw)
        assert self.event(mention(message, channel=channel), event_id=event_id).status_code == 200
        return str(message["ts"])

    def updates(self, count: int = 1) -> list[dict[str, Any]]:
        return wait_until(lambda: len(found := self.slack.called("chat.update")) >= count and found)

    def interactions(self) -> list[dict[str, Any]]:
        return stored(self.settings.data_dir, "interactions")

    def labels(self, interaction_id: str) -> list[str]:
        """The current (not retracted) feedback labels of one answer, as stored."""
        found = stored(self.settings.data_dir, f"feedback/{interaction_id}")
        return [f["label"] for f in found if f["label"]]


def make_settings(
    data_dir: Path, api_url: str, *, model_cache: Path, rate_limit: int = 5
) -> Settings:
    """Slack in HTTP mode against `api_url`; the embedding model exported once per session."""
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        slack=SlackSettings(
            bot_token=SecretStr(BOT_TOKEN),
            signing_secret=SecretStr(SIGNING_SECRET),
            api_url=api_url,
        ),
        bots=BotSettings(routes=ROUTES, rate_limit=rate_limit),
    )


@pytest.fixture
def slack_api(httpserver: HTTPServer) -> FakeSlack:
    return serve_fake_slack(httpserver)


@pytest.fixture
def serve(
    tmp_path: Path, httpserver: HTTPServer, slack_api: FakeSlack, model_cache: Path
) -> Callable[..., Any]:
    """Starts the app (as a context manager); a second start reuses the same data dir."""

    @contextmanager
    def start(
        *,
        rate_limit: int = 5,
        model: EchoModel | None = None,
        feedback: FlakyFeedbackLog | None = None,
    ) -> Iterator[Harness]:
        api_url = httpserver.url_for("/api/")
        settings = make_settings(tmp_path, api_url, model_cache=model_cache, rate_limit=rate_limit)
        model = model or EchoModel()
        retriever = Retriever(SOURCES)
        app = create_app(settings, adjust_services=with_fake_core(model, retriever, feedback))
        with TestClient(app) as client:
            yield Harness(
                client, slack_api, model, retriever, settings, httpserver.url_for("/respond/1")
            )

    return start


def test_url_verification_is_answered(serve: Callable[..., Any]) -> None:
    """Slack's url_verification challenge is echoed back."""
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWM"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"})
    with serve() as h:
        r = h.client.post("/slack/events", content=body, headers=sign(body))
    assert r.status_code == 200
    assert r.json() == {"challenge": challenge}


def test_bad_signatures_and_stale_timestamps_are_refused(serve: Callable[..., Any]) -> None:
    """A wrong signature, a missing one, or one older than 5 minutes gets 401 and no answer."""
    with serve() as h:
        message = h.slack.post_as_user("C1", f"<@{BOT_USER}> How do I run the tests?")
        body = event_body(mention(message, channel="C1"), event_id="Ev1")
        forged = sign(body, secret="not-the-signing-secret")
        stale = sign(body, at=time.time() - 6 * 60)
        for headers in (forged, stale, {}):
            r = h.client.post("/slack/events", content=body, headers=headers)
            assert r.status_code == 401
    assert h.slack.called("chat.postMessage") == []


def test_a_mention_gets_a_placeholder_then_the_answer_in_its_thread(
    serve: Callable[..., Any],
) -> None:
    """The placeholder goes into the thread at once and chat.update replaces it with the answer."""
    with serve() as h:
        asked = h.ask("How do I run the tests?")
        [update] = h.updates()
        [placeholder] = h.slack.called("chat.postMessage")
    assert placeholder == {"channel": "C1", "thread_ts": asked, "text": PLACEHOLDER}
    assert update["channel"] == "C1"
    [posted] = h.slack.bot_messages("C1")
    assert update["ts"] == posted["ts"] and posted["thread_ts"] == asked
    text = update["text"]
    assert text.startswith("Run `make test` [1].")
    assert f"[1] <{README_URL}|README.md:1-5 (Title)>" in text
    assert FEEDBACK_HINT in text
    assert h.model.prompts[0][-1].content.endswith("Question: How do I run the tests?\n\nAnswer:")
    [interaction] = h.interactions()
    question = interaction["question"]
    assert question["platform"] == "slack" and question["kb"] == "default"
    refs = {"team": "T1", "channel": "C1", "thread_ts": asked, "ts": asked}
    assert question["platform_refs"] == refs
    assert "U1" not in json.dumps(interaction)


def test_auth_test_is_called_once_at_start_not_per_event(serve: Callable[..., Any]) -> None:
    """The workspace identity is looked up when the app starts; events reuse it."""
    with serve() as h:
        assert len(h.slack.called("auth.test")) == 1
        for n in range(3):
            h.ask(f"How do I run the tests, take {n}?", event_id=f"Ev{n}")
        h.updates(3)
    assert len(h.slack.called("auth.test")) == 1


def test_a_retried_event_is_answered_once_even_after_a_restart(serve: Callable[..., Any]) -> None:
    """Retries of one event_id, also to a fresh process on the same data dir, are dropped."""
    with serve() as h:
        message = h.slack.post_as_user("C1", f"<@{BOT_USER}> How do I run the tests?")
        event = mention(message, channel="C1")
        assert h.event(dict(event), event_id="Ev1").status_code == 200
        retry = h.event(dict(event), event_id="Ev1", **{"X-Slack-Retry-Num": "1"})
        assert retry.status_code == 200
    assert len(h.slack.called("chat.postMessage")) == 1
    with serve() as again:
        retry = again.event(dict(event), event_id="Ev1", **{"X-Slack-Retry-Num": "2"})
        assert retry.status_code == 200
    assert len(h.slack.called("chat.postMessage")) == 1
    assert len(h.slack.called("chat.update")) == 1


def test_the_bots_own_and_other_bots_messages_are_ignored(serve: Callable[..., Any]) -> None:
    """Mentions written by this bot or by any other bot get no answer."""
    with serve() as h:
        own = h.slack.post_as_user("C1", f"<@{BOT_USER}> echo", user=BOT_USER)
        other = mention(h.slack.post_as_user("C1", f"<@{BOT_USER}> hi", user="U9"), channel="C1")
        other["bot_id"] = "B9"
        assert h.event(mention(own, channel="C1"), event_id="Ev1").status_code == 200
        assert h.event(other, event_id="Ev2").status_code == 200
    assert h.slack.called("chat.postMessage") == []


def test_mass_mentions_are_neutralised_in_answers_and_quotes(serve: Callable[..., Any]) -> None:
    """@channel, @here, @everyone and user groups echoed back can no longer notify anyone."""
    model = EchoModel("<!channel> <!here|here> @everyone <!subteam^S123|@devs> run it [1].")
    with serve(model=model) as h:
        h.ask("@channel how do I run the tests?")
        assert h.command("<!here> how do I run the tests?").status_code == 200
        updates = h.updates(2)
    [root] = [p for p in h.slack.called("chat.postMessage") if "thread_ts" not in p]
    for text in [u["text"] for u in updates] + [root["text"]]:
        assert "<!" not in text
        assert not re.search(r"(?<!\u200b)@(channel|here|everyone)\b", text.replace("@\u200b", ""))
    assert "@\u200beveryone" in updates[0]["text"]
    assert "@\u200bhere" in root["text"]


def test_over_the_rate_limit_the_thread_gets_a_polite_message(serve: Callable[..., Any]) -> None:
    """With a limit of one question, the user's second mention is told to wait."""
    with serve(rate_limit=1) as h:
        h.ask("How do I run the tests?", event_id="Ev1")
        h.ask("And the linters?", event_id="Ev2")
        updates = h.updates(2)
    texts = sorted(u["text"] for u in updates)
    assert texts[1] == RATE_LIMITED
    assert texts[0].startswith("Run `make test` [1].")


def test_a_core_failure_becomes_an_apology_in_the_thread(serve: Callable[..., Any]) -> None:
    """When the store fails, the placeholder becomes a short apology without any detail."""
    with serve() as h:
        h.ask("How do I run the tests?", channel="CBROKEN")
        [update] = h.updates()
    assert update["text"] == FAILED
    assert "gone" not in update["text"] and "Traceback" not in update["text"]


def test_an_empty_mention_gets_the_usage_help(serve: Callable[..., Any]) -> None:
    """A mention with no question is answered with how to ask, without a placeholder."""
    with serve() as h:
        asked = h.ask("")
        wait_until(lambda: h.slack.called("chat.postMessage"))
    usage = {"channel": "C1", "thread_ts": asked, "text": USAGE}
    assert h.slack.called("chat.postMessage") == [usage]
    assert h.model.prompts == []


def test_reactions_on_answers_become_feedback_and_removal_retracts(
    serve: Callable[..., Any],
) -> None:
    """👍 then 👎 leaves the latest label; removing it retracts; other messages are ignored."""
    with serve() as h:
        asked = h.ask("How do I run the tests?")
        answer_ts = h.updates()[0]["ts"]
        [interaction] = h.interactions()
        t0 = time.time()
        for emoji, added, offset in (("+1", True, 0), ("-1::skin-tone-3", True, 1)):
            event = reaction(emoji, channel="C1", ts=answer_ts, at=t0 + offset, added=added)
            assert h.event(event, event_id=f"Ev-{emoji}").status_code == 200
        assert h.labels(interaction["id"]) == ["negative"]
        on_question = reaction("+1", channel="C1", ts=asked, at=t0 + 2)
        on_question["item_user"] = "U1"
        h.event(on_question, event_id="Ev-q")
        h.event(reaction("eyes", channel="C1", ts=answer_ts, at=t0 + 3), event_id="Ev-eyes")
        assert h.labels(interaction["id"]) == ["negative"]
        removed = reaction("-1", channel="C1", ts=answer_ts, at=t0 + 4, added=False)
        assert h.event(removed, event_id="Ev-rm").status_code == 200
        assert h.labels(interaction["id"]) == []
    [record] = stored(h.settings.data_dir, f"feedback/{interaction['id']}")
    assert record["user_hash"] != "U2" and record["platform"] == "slack"


def test_a_reaction_the_feedback_store_refuses_is_retried_by_slack(
    serve: Callable[..., Any],
) -> None:
    """A failing feedback log answers 503 so Slack redelivers; the redelivery is recorded."""
    log = FlakyFeedbackLog()
    with serve(feedback=log) as h:
        h.ask("How do I run the tests?")
        answer_ts = h.updates()[0]["ts"]
        [interaction] = h.interactions()
        event = reaction("+1", channel="C1", ts=answer_ts, at=time.time())
        log.down = True
        assert h.event(dict(event), event_id="Ev-r").status_code == 503
        log.down = False
        retry = h.event(dict(event), event_id="Ev-r", **{"X-Slack-Retry-Num": "1"})
        assert retry.status_code == 200
        assert h.labels(interaction["id"]) == ["positive"]


def test_the_slash_command_quotes_the_question_and_answers_in_its_thread(
    serve: Callable[..., Any],
) -> None:
    """/leximind is acknowledged at once; a root message quotes it; the answer is in its thread."""
    with serve() as h:
        r = h.command("How do I run the tests?")
        assert r.status_code == 200 and r.text == ""
        [update] = h.updates()
    root, placeholder = h.slack.called("chat.postMessage")
    assert root == {"channel": "C1", "text": "*<@U1> asked:*\n>How do I run the tests?"}
    [root_message] = [m for m in h.slack.bot_messages("C1") if "thread_ts" not in m]
    assert placeholder == {"channel": "C1", "thread_ts": root_message["ts"], "text": PLACEHOLDER}
    assert update["text"].startswith("Run `make test` [1].")


def test_the_slash_command_without_text_explains_itself(serve: Callable[..., Any]) -> None:
    """`/leximind` alone gets the usage help, visible only to the user, and nothing is posted."""
    with serve() as h:
        r = h.command("  ")
    assert r.status_code == 200
    assert r.json() == {"text": USAGE, "response_type": "ephemeral"}
    assert h.slack.called("chat.postMessage") == []


def test_the_slash_command_where_the_bot_cannot_post_says_so(serve: Callable[..., Any]) -> None:
    """When Slack refuses the root message, the user is told privately how to invite the bot."""
    with serve() as h:
        h.slack.failures["chat.postMessage"] = "not_in_channel"
        assert h.command("How do I run the tests?", channel="CPRIVATE").status_code == 200
        [told] = wait_until(lambda: list(h.slack.responses))
    assert told["text"] == NOT_IN_CHANNEL and told["response_type"] == "ephemeral"
    assert h.model.prompts == []


def test_a_follow_up_in_a_thread_carries_the_earlier_turns(serve: Callable[..., Any]) -> None:
    """A mention inside a thread sends the thread's earlier question and answer to the core."""
    with serve() as h:
        first = h.ask("How do I run the tests?", event_id="Ev1")
        h.updates(1)
        h.ask("And only one of them?", event_id="Ev2", thread_ts=first)
        h.updates(2)
    [replies] = h.slack.called("conversations.replies")
    assert (replies["channel"], replies["ts"]) == ("C1", first)
    prompt = h.model.prompts[1]
    assert [(m.role, m.content) for m in prompt[1:3]] == [
        ("user", "How do I run the tests?"),
        ("assistant", "Run `make test` [1]."),
    ]
    assert prompt[-1].content.endswith("Question: And only one of them?\n\nAnswer:")
    assert h.retriever.queries[1] == "How do I run the tests?\nAnd only one of them?"


def test_a_follow_up_under_a_slash_command_uses_the_quoted_question(
    serve: Callable[..., Any],
) -> None:
    """In the thread of a /leximind answer, the root's quoted question is the first turn."""
    with serve() as h:
        h.command("How do I run the tests?")
        h.updates(1)
        [root] = [m for m in h.slack.bot_messages("C1") if "thread_ts" not in m]
        h.ask("Where is that documented?", event_id="Ev2", thread_ts=root["ts"])
        h.updates(2)
    assert [(m.role, m.content) for m in h.model.prompts[1][1:3]] == [
        ("user", "How do I run the tests?"),
        ("assistant", "Run `make test` [1]."),
    ]


def test_the_knowledge_base_follows_the_team_and_channel(serve: Callable[..., Any]) -> None:
    """Routes pick the knowledge base by workspace and channel; others use the default."""
    with serve() as h:
        h.ask("Where is the guide?", channel="CDOCS", event_id="Ev1")
        h.ask("How do I run the tests?", channel="C1", event_id="Ev2")
        message = h.slack.post_as_user("C9", f"<@{BOT_USER}> Where is the guide?")
        h.event(mention(message, channel="C9", team="T2"), event_id="Ev3")
        h.updates(3)
    by_channel = {i["question"]["platform_refs"]["channel"]: i for i in h.interactions()}
    assert {c: i["question"]["kb"] for c, i in by_channel.items()} == {
        "CDOCS": "docs",
        "C1": "default",
        "C9": "docs",
    }
    cited = {u["channel"]: "docs/guide.md" in u["text"] for u in h.slack.called("chat.update")}
    assert cited == {"CDOCS": True, "C1": False, "C9": True}


def test_when_chat_update_fails_the_answer_is_posted_in_the_thread(
    serve: Callable[..., Any],
) -> None:
    """If the placeholder cannot be replaced, the answer is posted as a new thread message."""
    with serve() as h:
        h.slack.failures["chat.update"] = "cant_update_message"
        asked = h.ask("How do I run the tests?")
        wait_until(lambda: len(h.slack.called("chat.postMessage")) >= 2)
    placeholder, answer = h.slack.called("chat.postMessage")
    assert placeholder["text"] == PLACEHOLDER
    assert answer["thread_ts"] == asked and answer["text"].startswith("Run `make test` [1].")


def test_without_slack_settings_the_endpoint_is_not_found(
    tmp_path: Path, model_cache: Path
) -> None:
    """A server with no Slack configuration answers 404 on /slack/events."""
    embedding = EmbeddingSettings(cache_dir=model_cache)
    settings = Settings(_env_file=None, data_dir=tmp_path, embedding=embedding)
    app = create_app(settings, adjust_services=with_fake_core(EchoModel(), Retriever(SOURCES)))
    with TestClient(app) as client:
        r = client.post("/slack/events", content="{}")
    assert r.status_code == 404 and "Slack is not configured" in r.json()["detail"]
