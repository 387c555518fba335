"""Browsable links to the exact lines a passage came from."""

from __future__ import annotations

import re
from urllib.parse import quote

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!//)[^\s]+)$")
_URL = re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+)$")


def browse_base(remote: str) -> str | None:
    """The https address of a repository from its git remote, or None when it has none.

    `git@github.com:o/r.git`, `ssh://git@github.com/o/r` and `https://github.com/o/r.git`
    all give `https://github.com/o/r`. Local paths and file:// remotes have no web page.
    """
    remote = remote.strip()
    match = _URL.match(remote) or _SCP_LIKE.match(remote)
    if match is None or remote.startswith("file://"):
        return None
    path = match.group("path").strip("/").removesuffix(".git")
    if not path:
        return None
    return f"https://{match.group('host')}/{path}"


def source_url(
    base: str | None, *, commit: str, path: str, start_line: int, end_line: int
) -> str | None:
    """A permalink to lines of a file at a commit, in the style of the hosting service.

    GitLab puts `/-/` before `blob` and writes line ranges as `#L3-7`; GitHub, Gitea and
    most others use `/blob/` and `#L3-L7`. Without a commit the default branch is linked.
    """
    if not base:
        return None
    ref = commit or "HEAD"
    file_path = quote(path, safe="/")
    if "gitlab" in base.split("/")[2]:
        anchor = f"#L{start_line}" + (f"-{end_line}" if end_line > start_line else "")
        return f"{base}/-/blob/{ref}/{file_path}{anchor}"
    anchor = f"#L{start_line}" + (f"-L{end_line}" if end_line > start_line else "")
    return f"{base}/blob/{ref}/{file_path}{anchor}"
