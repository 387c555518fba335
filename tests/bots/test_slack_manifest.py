"""The shipped Slack manifest asks for what the adapter uses, and only that."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT


def test_the_manifest_names_the_scopes_events_and_command() -> None:
    """Scopes, bot events, /leximind and both request URLs at /slack/events."""
    manifest = yaml.safe_load((REPO_ROOT / "bots" / "slack_manifest.yaml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "commands",
        "reactions:read",
        "channels:history",
    }
    events = manifest["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == {"app_mention", "reaction_added", "reaction_removed"}
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/leximind"
    assert command["url"].endswith("/slack/events") and events["request_url"] == command["url"]
