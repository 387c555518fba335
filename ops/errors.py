"""The one error the composition root raises for a setting a process needs but lacks."""

from __future__ import annotations

from core.errors import LeximindError


class NotConfigured(LeximindError):
    """A process needs a setting that is not set; the message names the variable to set.

    Raised while services are built, before anything serves: the CLI prints it as one line,
    the API fails its start-up with it.
    """
