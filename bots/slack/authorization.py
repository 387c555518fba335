"""Bolt's `authorize=` hook for one workspace: auth.test once per process, not per event."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

_log = logging.getLogger(__name__)


class WorkspaceAuthorization(AsyncAuthorize):
    """Who the bot is in its one workspace, from auth.test with the bot token.

    Bolt's own single-workspace authorization calls auth.test on the first request and
    caches it, so a burst of first requests after a start would each call it and each
    acknowledgement would wait for it. This one is primed at start-up and calls auth.test at
    most once at a time; a failed call is not cached, so the next request asks again.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._result: AuthorizeResult | None = None
        self._lock = asyncio.Lock()

    async def prime(self) -> None:
        """Calls auth.test now; when Slack cannot be reached, the first request retries."""
        try:
            await self.result()
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            _log.warning(
                "auth.test failed at start-up (%s); retried on the first event",
                reason or type(exc).__name__,
            )

    async def result(self) -> AuthorizeResult:
        """The cached identity, read from auth.test on the first call."""
        async with self._lock:
            if self._result is None:
                response = await self._client.auth_test()
                self._result = AuthorizeResult.from_auth_test_response(
                    bot_token=self._client.token, auth_test_response=response
                )
            return self._result

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult:
        """What Bolt's authorization middleware asks for each request; one workspace, so the
        same answer for every request."""
        return await self.result()
