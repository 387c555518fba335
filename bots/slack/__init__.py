"""The Slack adapter: Bolt listeners for HTTP mode and Socket Mode."""

from bots.slack.app import SlackBot

__all__ = ["SlackBot"]
