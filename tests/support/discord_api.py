"""A fake of the Discord REST API on pytest-httpserver, and gateway payloads to feed a client.

It answers what the bot calls: login (`/users/@me`, `/oauth2/applications/@me`), typing,
message create and fetch, interaction callbacks, follow-up webhooks and command sync. Messages
the bot posts are kept, and can be fetched back, like on Discord.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

API = "/api/v10"
TIMESTAMP = "2026-11-25T10:00:00.000000+00:00"


def user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    """A Discord user object."""
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


def text_channel(channel_id: int, guild_id: int, name: str) -> dict[str, Any]:
    """A guild text channel object."""
    return {
        "id": str(channel_id),
        "guild_id": str(guild_id),
        "type": 0,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
    }


def thread(thread_id: int, guild_id: int, parent_id: int, owner_id: int) -> dict[str, Any]:
    """A public thread object under a text channel."""
    return {
        "id": str(thread_id),
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "type": 11,
        "name": "help thread",
        "message_count": 1,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": False,
        },
    }


def guild(
    guild_id: int,
    *,
    owner_id: int,
    channels: list[dict[str, Any]],
    threads: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """A GUILD_CREATE payload with its channels and active threads."""
    return {
        "id": str(guild_id),
        "name": "Project",
        "icon": None,
        "owner_id": str(owner_id),
        "roles": [
            {
                "id": str(guild_id),
                "name": "@everyone",
                "permissions": "1024",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            }
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "channels": channels,
        "threads": list(threads),
        "members": [],
        "voice_states": [],
        "presences": [],
        "member_count": 3,
        "large": False,
        "unavailable": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
    }


def message(
    message_id: int,
    *,
    channel_id: int,
    author: dict[str, Any],
    content: str,
    guild_id: int | None = None,
    mentions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    replies_to: dict[str, Any] | None = None,
    include_parent: bool = True,
) -> dict[str, Any]:
    """A message object (MESSAGE_CREATE payload); `replies_to` makes it a reply.

    Discord sends the replied-to message along (`referenced_message`), one level deep.
    """
    data: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": "@everyone" in content,
        "mentions": list(mentions),
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    if replies_to is not None:
        data["type"] = 19
        data["message_reference"] = {
            "type": 0,
            "message_id": replies_to["id"],
            "channel_id": replies_to["channel_id"],
        }
        if include_parent:
            parent = {k: v for k, v in replies_to.items() if k != "referenced_message"}
            data["referenced_message"] = parent
    return data


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: str
    body: Any


class FakeDiscord:
    """Plays Discord's REST API for one bot; every request is kept in `calls`."""

    def __init__(self, server: HTTPServer, *, bot: dict[str, Any], app_id: int) -> None:
        self.server = server
        self.bot = bot
        self.app_id = app_id
        self.messages: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(900_000_000_000_000_001)
        self._lock = threading.Lock()
        self._install()

    @property
    def base_url(self) -> str:
        return self.server.url_for(API)

    def _install(self) -> None:
        expect = self.server.expect_request
        expect(f"{API}/users/@me", method="GET").respond_with_json(self.bot)
        expect(f"{API}/oauth2/applications/@me", method="GET").respond_with_json(self._app())
        channel = rf"{API}/channels/(\d+)"
        expect(re.compile(rf"{channel}/typing"), method="POST").respond_with_data(status=204)
        expect(re.compile(rf"{channel}/messages"), method="POST").respond_with_handler(
            self._create_message
        )
        expect(re.compile(rf"{channel}/messages/(\d+)"), method="GET").respond_with_handler(
            self._fetch_message
        )
        expect(
            re.compile(rf"{API}/interactions/(\d+)/([\w-]+)/callback"), method="POST"
        ).respond_with_handler(self._callback)
        expect(re.compile(rf"{API}/webhooks/(\d+)/([\w-]+)"), method="POST").respond_with_handler(
            self._follow_up
        )
        expect(
            re.compile(rf"{API}/applications/(\d+)(/guilds/\d+)?/commands"), method="PUT"
        ).respond_with_handler(self._sync)

    def _app(self) -> dict[str, Any]:
        return {
            "id": str(self.app_id),
            "name": "Leximind",
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user(1, "owner"),
            "summary": "",
            "verify_key": "0" * 64,
            "flags": 0,
        }

    def seed(self, *messages: dict[str, Any]) -> None:
        """Messages that exist on Discord already, so that the bot can fetch them."""
        with self._lock:
            for data in messages:
                self.messages[data["id"]] = data

    def _posted(self, request: Request, channel_id: str, **extra: Any) -> dict[str, Any]:
        body = request.get_json()
        data = message(
            next(self._ids), channel_id=int(channel_id), author=self.bot, content=body["content"]
        )
        reference = body.get("message_reference")
        if reference:
            data["type"] = 19
            data["message_reference"] = {
                key: str(value) if key.endswith("_id") else value
                for key, value in reference.items()
            }
        data.update(extra)
        with self._lock:
            self.messages[data["id"]] = data
        return data

    def _create_message(self, request: Request) -> Response:
        channel_id = request.path.split("/")[4]
        return _json(self._posted(request, channel_id))

    def _fetch_message(self, request: Request) -> Response:
        message_id = request.path.rsplit("/", 1)[1]
        with self._lock:
            found = self.messages.get(message_id)
        if found is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(found)

    def _callback(self, request: Request) -> Response:
        interaction_id = request.path.split("/")[4]
        body = request.get_json()
        loading = body["type"] == 5
        return _json(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": 2,
                    "response_message_loading": loading,
                    "response_message_ephemeral": bool(body.get("data", {}).get("flags")),
                }
            }
        )

    def _follow_up(self, request: Request) -> Response:
        return _json(self._posted(request, "0", webhook_id=str(self.app_id)))

    def _sync(self, request: Request) -> Response:
        commands = request.get_json()
        for number, command in enumerate(commands, start=1):
            command.update(
                id=str(700 + number),
                application_id=str(self.app_id),
                version="1",
                default_member_permissions=None,
            )
        return _json(commands)

    def calls(self, method: str, path_pattern: str) -> list[Call]:
        """The requests made so far whose path matches `path_pattern` (after /api/v10)."""
        pattern = re.compile(rf"{API}{path_pattern}$")
        found = []
        for request, _ in list(self.server.log):
            if request.method == method and pattern.match(request.path):
                raw = request.get_data(as_text=True)
                body = json.loads(raw) if raw else None
                found.append(
                    Call(request.method, request.path, request.query_string.decode(), body)
                )
        return found


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def reaction(
    *, message_id: str, user_id: int, emoji: str, channel_id: int, guild_id: int
) -> dict[str, Any]:
    """A MESSAGE_REACTION_ADD / _REMOVE payload for a Unicode emoji."""
    return {
        "user_id": str(user_id),
        "channel_id": str(channel_id),
        "message_id": message_id,
        "guild_id": str(guild_id),
        "emoji": {"id": None, "name": emoji},
        "type": 0,
        "burst": False,
    }


def slash_command(
    name: str,
    options: dict[str, str],
    *,
    interaction_id: int,
    app_id: int,
    member: dict[str, Any],
    channel: dict[str, Any],
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for a chat-input command in a guild channel."""
    return {
        "id": str(interaction_id),
        "application_id": str(app_id),
        "type": 2,
        "token": f"token-{interaction_id}",
        "version": 1,
        "guild_id": channel["guild_id"],
        "channel_id": channel["id"],
        "channel": channel,
        "member": {
            "user": member,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "permissions": "2048",
            "deaf": False,
            "mute": False,
            "flags": 0,
        },
        "data": {
            "id": "701",
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
        },
        "app_permissions": "2048",
        "attachment_size_limit": 10_485_760,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": channel["guild_id"]},
        "context": 0,
    }
