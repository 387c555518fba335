"""The composition root builds the Discord client from settings over the shared bot layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from ops.settings import DiscordSettings, EmbeddingSettings, Settings
from ops.wiring import open_services
from tests.support.discord_bot import APP_ID, GUILD, fake_discord


async def test_the_client_from_settings_logs_in_and_registers_its_command(
    tmp_path: Path, model_cache: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings' guild id and sync flag reach the client; its state lives in the data dir."""
    api = fake_discord(httpserver, monkeypatch)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        discord=DiscordSettings(token="abc.def.ghi", guild_id=GUILD),
    )
    async with open_services(settings, "discord") as process:
        client = process.discord
        assert client is not None
        await client.login("abc.def.ghi")
        assert api.calls("PUT", rf"/applications/{APP_ID}/guilds/{GUILD}/commands")
        assert client.intents == client.intents.default()
        assert not client.intents.message_content and not client.intents.members
        assert client.allowed_mentions is not None
        assert client.allowed_mentions.to_dict() == {"parse": []}
    assert client.is_closed()
    assert (tmp_path / "data" / "bots" / "state.sqlite3").exists()
