"""Which knowledge base answers a Slack channel, a Discord guild or a GitHub repository."""

from __future__ import annotations

from collections.abc import Mapping


class KnowledgeBaseRoutes:
    """Maps platform places to knowledge bases; the most specific route wins.

    Route keys are `slack:<team>`, `slack:<team>/<channel>`, `discord:<guild>`,
    `discord:<guild>/<channel>`, `github:<owner>/<repo>` and `github:<owner>`; a place
    with no route is answered from `default`.
    """

    def __init__(self, routes: Mapping[str, str], *, default: str) -> None:
        self._routes = {key.strip().lower(): kb for key, kb in routes.items()}
        self._default = default

    @property
    def default(self) -> str:
        return self._default

    def resolve(self, platform: str, *scopes: str | None) -> str:
        """The knowledge base for a place given from the widest scope to the narrowest.

        `resolve("slack", team_id, channel_id)` tries `slack:T/C`, then `slack:T`.
        """
        parts = [s for s in scopes if s]
        for depth in range(len(parts), 0, -1):
            key = f"{platform}:{'/'.join(parts[:depth])}".lower()
            if key in self._routes:
                return self._routes[key]
        return self._default
