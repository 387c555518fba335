"""The GitHub adapter answers labelled issues and mentions once, through the real PyGithub."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from bots.github.bot import comment_key
from bots.rendering import FAILED, FEEDBACK_HINT, MARKDOWN, RATE_LIMITED, render_answer
from core.errors import StoreUnavailable
from core.types import Source
from tests.bots.github_kit import (
    REPO,
    SECRET,
    SOURCES,
    api_server,
    github,
    harness,
    token_access,
)
from tests.fakes import ListRetriever
from tests.support.fake_github import (
    BOT_LOGIN,
    FakeGitHub,
    event_payload,
    issue,
    signed_headers,
    user,
)

__all__ = ["api_server", "github"]

NEWCOMER = user("newcomer", 501)


def opened(number: int, *, labels: tuple[str, ...] = ("question",), **kw: object) -> dict:
    return event_payload(action="opened", repo=REPO, issue_data=issue(number, labels=labels, **kw))


def labeled(number: int, label: str = "question") -> dict:
    data = issue(number, labels=(label,))
    return event_payload(
        action="labeled",
        repo=REPO,
        issue_data=data,
        label={"name": label},
        sender=user("maintainer", 7),
    )


def commented(
    number: int,
    comment_id: int,
    body: str,
    *,
    author: dict | None = None,
    pull_request: bool = False,
) -> dict:
    author = author or NEWCOMER
    return event_payload(
        action="created",
        repo=REPO,
        issue_data=issue(number, pull_request=pull_request),
        comment={"id": comment_id, "body": body, "user": author},
        sender=author,
    )


async def test_bad_or_missing_signature_is_refused(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A delivery whose signature is wrong or missing gets 401 and is not parsed or answered."""
    h = harness(tmp_path, token_access(api_server))
    body = json.dumps(opened(1)).encode()
    good = {
        k.lower(): v for k, v in signed_headers(SECRET, body, event="issues", delivery="d1").items()
    }
    forged = {**good, "x-hub-signature-256": "sha256=" + "0" * 64}
    missing = {k: v for k, v in good.items() if k != "x-hub-signature-256"}
    assert (await h.hook.receive(forged, body)).status == 401
    assert (await h.hook.receive(missing, body)).status == 401
    assert (await h.hook.receive(good, body + b" ")).status == 401
    bad_json = b"{not json"
    signed = {
        k.lower(): v
        for k, v in signed_headers(SECRET, bad_json, event="issues", delivery="d2").items()
    }
    assert (await h.hook.receive(signed, bad_json)).status == 400
    assert github.requests == []
    h.close()


async def test_a_labelled_issue_gets_one_answer_from_its_repository_kb(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """An issue opened with the question label is answered with sources, hint and a link
    from the comment to the interaction; the repository's route picks the knowledge base."""
    h = harness(tmp_path, token_access(api_server))
    assert await h.deliver("issues", opened(1), "d1") == 202
    [body] = github.posted(REPO, 1)
    assert body.startswith("Run `make test` [1].")
    assert "CONTRIBUTING.md" in body and FEEDBACK_HINT in body
    [(_, _, headers)] = [r for r in github.requests if r[0] == "POST"]
    assert headers["Authorization"] == "token ghp_test-token"
    [comment] = github.comments[(REPO, 1)]
    interaction = await h.state.interaction_for(comment_key(REPO, comment["id"]))
    assert interaction and list(h.interactions.glob(f"*/*/*/{interaction}.json"))
    question = h.model.prompts[0][-1].content
    assert "How do I run the tests?" in question and "test suite" in question
    h.close()


async def test_opened_and_labeled_are_answered_once(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """`opened` with the label and `labeled` (two deliveries) make one answer, not two."""
    h = harness(tmp_path, token_access(api_server))
    assert await h.deliver("issues", opened(2), "d-opened") == 202
    assert await h.deliver("issues", labeled(2), "d-labeled") == 200
    assert len(github.posted(REPO, 2)) == 1
    h.close()


async def test_a_redelivery_is_answered_once_also_after_a_restart(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """The same X-GitHub-Delivery is answered once, by this process or the next one."""
    h = harness(tmp_path, token_access(api_server))
    payload = commented(3, 3001, f"@{BOT_LOGIN} how do I run the tests?")
    assert await h.deliver("issue_comment", payload, "d-same") == 202
    assert await h.deliver("issue_comment", payload, "d-same") == 200
    h.close()
    restarted = harness(tmp_path, token_access(api_server))
    assert await restarted.deliver("issue_comment", payload, "d-same") == 200
    assert len(github.posted(REPO, 3)) == 1
    restarted.close()


async def test_unlabelled_issues_and_other_labels_are_ignored(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """Without the question label (opened, or labelled with another label) nothing happens."""
    h = harness(tmp_path, token_access(api_server))
    assert await h.deliver("issues", opened(4, labels=()), "d1") == 200
    assert await h.deliver("issues", opened(5, labels=("bug",)), "d2") == 200
    assert await h.deliver("issues", labeled(5, "bug"), "d3") == 200
    assert (
        await h.deliver(
            "issues",
            event_payload(action="closed", repo=REPO, issue_data=issue(6, labels=("question",))),
            "d4",
        )
        == 200
    )
    assert await h.deliver("push", {"ref": "refs/heads/main"}, "d5") == 200
    assert github.requests == [] and h.model.prompts == []
    h.close()


async def test_a_mention_is_answered_with_the_thread_as_history(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A comment mentioning the bot is answered with the issue, earlier questions and the
    bot's answers (without their source lists) as turns; other bots' comments are left out."""
    h = harness(tmp_path, token_access(api_server), replies=["Use `pytest -k` [1]."])
    github.add_comment(REPO, 7, f"@{BOT_LOGIN} where is the test command?", NEWCOMER)
    earlier = render_answer_for("Run `make test` [1].")
    github.add_comment(REPO, 7, earlier, user(BOT_LOGIN, 99))
    github.add_comment(REPO, 7, "CI passed ✅", user("ci-bot[bot]", 42, "Bot"))
    asked = github.add_comment(REPO, 7, f"Thanks! @{BOT_LOGIN} and only one test?", NEWCOMER)
    github.add_comment(REPO, 7, "a later comment, not part of the history", NEWCOMER)

    assert (
        await h.deliver(
            "issue_comment", commented(7, asked, f"Thanks! @{BOT_LOGIN} and only one test?"), "d1"
        )
        == 202
    )
    messages = [(m.role, m.content) for m in h.model.prompts[0]]
    assert messages[1][0] == "user" and "How do I run the tests?" in messages[1][1]
    assert "where is the test command?" in messages[1][1]
    assert messages[2] == ("assistant", "Run `make test` [1].")
    assert "CI passed" not in str(messages) and "a later comment" not in str(messages)
    assert messages[-1][1].endswith("Question: Thanks!  and only one test?\n\nAnswer:")
    assert github.posted(REPO, 7)[-1].startswith("Use `pytest -k` [1].")
    h.close()


def render_answer_for(text: str) -> str:
    from core.types import Answer, Timings

    answer = Answer(text, tuple(SOURCES["widgets"]), 0.9, False, "m", False, Timings())
    return render_answer(answer, MARKDOWN)


async def test_a_bare_mention_asks_about_the_unanswered_issue(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """`@bot` alone on an issue nobody answered asks the issue's own question."""
    h = harness(tmp_path, token_access(api_server))
    asked = github.add_comment(REPO, 8, f"@{BOT_LOGIN}", NEWCOMER)
    assert await h.deliver("issue_comment", commented(8, asked, f"@{BOT_LOGIN}"), "d1") == 202
    prompt = h.model.prompts[0]
    assert len(prompt) == 2 and "How do I run the tests?" in prompt[-1].content
    assert len(github.posted(REPO, 8)) == 1
    h.close()


async def test_pull_request_comments_need_a_mention(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A PR comment without the mention is ignored; with it, it is answered."""
    h = harness(tmp_path, token_access(api_server))
    plain = commented(9, 9001, "LGTM, how do I run the tests?", pull_request=True)
    assert await h.deliver("issue_comment", plain, "d1") == 200
    code_only = commented(9, 9002, f"see `@{BOT_LOGIN}` in the docs", pull_request=True)
    assert await h.deliver("issue_comment", code_only, "d2") == 200
    mail = commented(9, 9003, f"write to me@{BOT_LOGIN}.org", pull_request=True)
    assert await h.deliver("issue_comment", mail, "d3") == 200
    assert github.posted(REPO, 9) == []
    github.add_comment(REPO, 9, "x", NEWCOMER)
    mention = commented(9, 9999, f"@{BOT_LOGIN} how do I run the tests?", pull_request=True)
    assert await h.deliver("issue_comment", mention, "d4") == 202
    assert len(github.posted(REPO, 9)) == 1
    h.close()


async def test_the_bot_and_other_bots_are_never_answered(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """Comments by the bot itself or any Bot account, and issues bots open, get no answer."""
    h = harness(tmp_path, token_access(api_server))
    own = commented(10, 1, f"@{BOT_LOGIN} answer yourself", author=user(BOT_LOGIN, 99))
    app_bot = commented(10, 2, f"@{BOT_LOGIN} hi", author=user("dependabot[bot]", 3, "Bot"))
    by_bot = opened(11, author=user("renovate[bot]", 4, "Bot"))
    for n, payload in enumerate((own, app_bot)):
        assert await h.deliver("issue_comment", payload, f"c{n}") == 200
    assert await h.deliver("issues", by_bot, "i1") == 200
    assert github.requests == []
    h.close()


async def test_mentions_in_the_answer_notify_nobody(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """@everyone, @org/team and @user in an answer are defused; code and e-mails stay."""
    reply = "Ask @everyone or @octo/maintainers, or @alice (alice@example.org); `@app.get` works."
    h = harness(tmp_path, token_access(api_server), replies=[reply])
    await h.deliver("issues", opened(12), "d1")
    [body] = github.posted(REPO, 12)
    zw = "\u200b"
    assert f"@{zw}everyone" in body and f"@{zw}octo/maintainers" in body and f"@{zw}alice" in body
    assert "alice@example.org" in body and "`@app.get`" in body
    h.close()


async def test_over_the_rate_limit_the_user_gets_a_short_comment(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A user over the per-user limit is told so in a comment that feeds no reactions."""
    h = harness(tmp_path, token_access(api_server), rate_limit=1)
    await h.deliver("issues", opened(13), "d1")
    await h.deliver("issues", opened(14), "d2")
    assert github.posted(REPO, 14) == [RATE_LIMITED]
    [comment] = github.comments[(REPO, 14)]
    assert await h.state.interaction_for(comment_key(REPO, comment["id"])) is None
    h.close()


class BrokenRetriever(ListRetriever):
    async def search(self, query: str, **_: object) -> list[Source]:  # type: ignore[override]
        raise StoreUnavailable("the index is gone")


async def test_a_core_failure_gets_an_apology_comment(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """When the core fails, the issue gets a short apology, never silence or a trace."""
    h = harness(tmp_path, token_access(api_server), retriever=BrokenRetriever(SOURCES))
    await h.deliver("issues", opened(15), "d1")
    assert github.posted(REPO, 15) == [FAILED]
    h.close()


async def test_a_long_issue_is_cut_to_fit_and_still_answered(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """An issue body over the question limit is cut, not refused."""
    h = harness(tmp_path, token_access(api_server), max_question_chars=300)
    await h.deliver("issues", opened(16, body="log line\n" * 200), "d1")
    [body] = github.posted(REPO, 16)
    assert body.startswith("Run `make test`")
    h.close()
