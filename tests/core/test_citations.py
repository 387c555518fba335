"""Remotes become web addresses, and sources get permalinks to their lines."""

from __future__ import annotations

import pytest

from core.citations import browse_base, source_url


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/fastapi/fastapi.git", "https://github.com/fastapi/fastapi"),
        ("git@github.com:fastapi/fastapi.git", "https://github.com/fastapi/fastapi"),
        ("ssh://git@github.com/o/r", "https://github.com/o/r"),
        ("https://user:tok@gitlab.com/g/sub/r.git", "https://gitlab.com/g/sub/r"),
        ("/srv/git/project.git", None),
        ("file:///srv/git/project.git", None),
        ("", None),
    ],
)
def test_browse_base(remote: str, expected: str | None) -> None:
    """Known remote forms map to https; local remotes have no web page; credentials drop."""
    assert browse_base(remote) == expected


def test_github_permalink_with_line_range() -> None:
    """GitHub links pin the commit and the line range."""
    url = source_url(
        "https://github.com/o/r", commit="abc", path="docs/a b.md", start_line=10, end_line=42
    )
    assert url == "https://github.com/o/r/blob/abc/docs/a%20b.md#L10-L42"


def test_gitlab_style_and_single_line() -> None:
    """GitLab uses /-/blob/ and L3-7; a one-line range has no end."""
    gl = source_url("https://gitlab.com/g/r", commit="abc", path="x.py", start_line=3, end_line=7)
    assert gl == "https://gitlab.com/g/r/-/blob/abc/x.py#L3-7"
    one = source_url("https://github.com/o/r", commit="", path="x.py", start_line=5, end_line=5)
    assert one == "https://github.com/o/r/blob/HEAD/x.py#L5"


def test_no_base_no_url() -> None:
    """Without a web address there is no link."""
    assert source_url(None, commit="abc", path="x", start_line=1, end_line=2) is None
