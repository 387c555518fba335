"""Reactions on the bot's GitHub comments are polled with ETags and become feedback once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer

from adapters.storage.logs import ObjectFeedbackLog
from bots.github.api import GitHubApi
from bots.github.bot import comment_key
from bots.github.reactions import ReactionPoller, ReactionSnapshots, parse_comment_key
from bots.identity import UserHasher
from bots.reactions import EmojiLabels, FeedbackRecorder
from bots.state import SqliteBotState
from core.types import FeedbackLabel
from tests.bots.github_kit import (
    KEY,
    REPO,
    api_server,
    app_access,
    github,
    rsa_pair,
    token_access,
)
from tests.support.fake_github import FakeGitHub, reaction
from tests.support.storage import local_feedback_log

__all__ = ["api_server", "github"]

NOW = datetime.now(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def poller(
    tmp_path: Path, server: HTTPServer, state: SqliteBotState, clock: Clock
) -> tuple[ReactionPoller, ObjectFeedbackLog]:
    log = local_feedback_log(tmp_path)
    hasher = UserHasher(KEY)
    recorder = FeedbackRecorder(answers=state, feedback=log, labels=EmojiLabels(), hash_user=hasher)
    return (
        ReactionPoller(
            api=GitHubApi(token_access(server)),
            state=state,
            recorder=recorder,
            snapshots=ReactionSnapshots(tmp_path / "bots" / "github-reactions.sqlite3"),
            hash_user=hasher,
            clock=clock,
        ),
        log,
    )


def labels(found: list) -> dict[str, FeedbackLabel | None]:
    hasher = UserHasher(KEY)
    names = {hasher("github", str(uid)): login for login, uid in (("ann", 1), ("bob", 2))}
    return {names[f.user_hash]: f.label for f in found}


async def test_reactions_are_recorded_once_unchanged_is_304_and_removal_retracts(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """+1 and -1 become labels, others are ignored; a second run sends the ETag and gets a
    304; a reaction that vanished is retracted, one that stayed is not recorded again."""
    state = SqliteBotState(tmp_path / "bots" / "state.sqlite3")
    await state.remember(comment_key(REPO, 501), "interaction-1")
    github.reactions[501] = [
        reaction("ann", 1, "+1", minute=1),
        reaction("bob", 2, "-1", minute=2),
        reaction("bob", 2, "eyes", minute=3),
    ]
    clock = Clock()
    poll, log = poller(tmp_path, api_server, state, clock)

    first = await poll.poll()
    assert (first.comments, first.recorded, first.retracted, first.unchanged) == (1, 2, 0, 0)
    current = labels(await log.for_interaction("interaction-1"))
    assert current == {"ann": FeedbackLabel.POSITIVE, "bob": FeedbackLabel.NEGATIVE}

    second = await poll.poll()
    assert (second.unchanged, second.recorded) == (1, 0)
    [_, conditional] = [r for r in github.requests if r[1].endswith("/501/reactions")]
    assert conditional[2]["If-None-Match"].startswith('"')

    github.reactions[501] = [reaction("ann", 1, "+1", minute=1)]
    clock.now += timedelta(minutes=5)
    third = await poll.poll()
    assert (third.recorded, third.retracted, third.unchanged) == (0, 1, 0)
    current = labels(await log.for_interaction("interaction-1"))
    assert current == {"ann": FeedbackLabel.POSITIVE}
    poll.close()
    state.close()


async def test_a_changed_mind_between_polls_keeps_the_newer_label(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A user who swapped +1 for -1 between two runs ends with the negative label."""
    state = SqliteBotState(tmp_path / "bots" / "state.sqlite3")
    await state.remember(comment_key(REPO, 601), "interaction-2")
    github.reactions[601] = [reaction("ann", 1, "+1", minute=1)]
    clock = Clock()
    poll, log = poller(tmp_path, api_server, state, clock)
    await poll.poll()
    github.reactions[601] = [reaction("ann", 1, "-1", minute=9)]
    clock.now += timedelta(minutes=10)
    report = await poll.poll()
    assert (report.recorded, report.retracted) == (1, 0)
    assert labels(await log.for_interaction("interaction-2")) == {"ann": FeedbackLabel.NEGATIVE}
    poll.close()
    state.close()


async def test_snapshots_survive_a_restart_and_old_or_failing_comments(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A new poller on the same data dir sends the stored ETag; a comment that fails is
    reported and retried; answers outside the window are not polled at all."""
    state = SqliteBotState(tmp_path / "bots" / "state.sqlite3")
    await state.remember(comment_key(REPO, 701), "interaction-3")
    await state.remember(comment_key(REPO, 702), "interaction-4")  # 404: no such comment
    await state.remember("slack:C1:111.1", "interaction-5")
    github.reactions[701] = [reaction("ann", 1, "+1")]
    clock = Clock()
    poll, _ = poller(tmp_path, api_server, state, clock)
    github.reactions[702] = []
    await poll.poll()
    poll.close()
    del github.reactions[702]

    again, _ = poller(tmp_path, api_server, state, clock)
    report = await again.poll()
    assert report.unchanged == 1 and report.failed == [comment_key(REPO, 702)]
    clock.now += timedelta(days=30)
    assert (await again.poll()).comments == 0
    again.close()
    state.close()


def test_comment_keys_parse_and_others_do_not() -> None:
    """Only `github:<owner>/<repo>:comment:<id>` keys are polled."""
    assert parse_comment_key("github:octo/widgets:comment:12") == ("octo/widgets", 12)
    for key in ("slack:C1:1.2", "github:octo:comment:1", "github:o/r:comment:x", "github:o/r"):
        assert parse_comment_key(key) is None


async def test_as_an_app_the_poller_finds_each_repositorys_installation(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """Signed in as an App, the poller asks (with its JWT) which installation covers the
    repository, then reads the reactions with that installation's token."""
    private, public = rsa_pair()
    github.app_id, github.public_key = 4242, public
    state = SqliteBotState(tmp_path / "bots" / "state.sqlite3")
    await state.remember(comment_key(REPO, 801), "interaction-8")
    github.reactions[801] = [reaction("ann", 1, "+1")]
    hasher = UserHasher(KEY)
    log = local_feedback_log(tmp_path)
    poll = ReactionPoller(
        api=GitHubApi(app_access(api_server, private)),
        state=state,
        recorder=FeedbackRecorder(
            answers=state, feedback=log, labels=EmojiLabels(), hash_user=hasher
        ),
        snapshots=ReactionSnapshots(tmp_path / "snapshots.sqlite3"),
        hash_user=hasher,
        clock=Clock(),
    )
    report = await poll.poll()
    assert (report.recorded, report.failed) == (1, [])
    assert github.count("GET", rf"^/repos/{REPO}/installation$") == 1
    assert github.count("POST", r"^/app/installations/77/access_tokens$") == 1
    poll.close()
    state.close()
