"""The web surface: an ask page, a docs-site widget and a maintainer's dashboard.

A platform adapter like bots/slack or bots/discord: it turns HTTP requests of a browser into
questions for the core and renders the answers; `leximind serve` mounts its routes.
"""
