"""Places map to knowledge bases, most specific route first."""

from __future__ import annotations

from bots.routing import KnowledgeBaseRoutes

ROUTES = KnowledgeBaseRoutes(
    {
        "slack:T1": "team",
        "slack:T1/C9": "channel",
        "github:Octo/Repo": "repo",
        "github:octo": "org",
    },
    default="fallback",
)


def test_most_specific_route_wins() -> None:
    assert ROUTES.resolve("slack", "T1", "C9") == "channel"
    assert ROUTES.resolve("slack", "T1", "C2") == "team"
    assert ROUTES.resolve("slack", "T2", "C9") == "fallback"


def test_github_routes_ignore_case_and_fall_back_to_the_owner() -> None:
    assert ROUTES.resolve("github", "octo", "repo") == "repo"
    assert ROUTES.resolve("github", "OCTO", "other") == "org"


def test_missing_scopes_use_the_wider_route() -> None:
    assert ROUTES.resolve("slack", "T1", None) == "team"
    assert ROUTES.resolve("discord", None, None) == "fallback"
