"""Container health checks: `python -m ops.healthcheck URL` or `--file PATH --max-age S`.

Exit status 0 when healthy, 1 otherwise with the reason on stderr, as Docker's HEALTHCHECK
expects. Only the standard library, so a check starts fast every interval.

- URL: healthy when it answers 2xx within `--timeout` seconds and, with `--contains TEXT`,
  its body contains TEXT (e.g. a gauge line of a /metrics page).
- `--file`: healthy when the file exists and was modified at most `--max-age` seconds ago
  (the scheduler's heartbeat).
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def check_url(url: str, *, contains: str | None = None, timeout: float = 5.0) -> str | None:
    """None when `url` answers 2xx (with `contains` in its body); else why not."""
    if not url.startswith(("http://", "https://")):
        return f"{url!r} is not an http(s) URL"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(1_000_000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"
    if contains is not None and contains not in body:
        return f"{url} does not contain {contains!r}"
    return None


def check_file(path: Path, *, max_age: float, now: float | None = None) -> str | None:
    """None when `path` was modified at most `max_age` seconds ago; else why not."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if age > max_age:
        return f"{path} is {age:.0f} s old (more than {max_age:.0f} s)"
    return None


def main(argv: list[str] | None = None) -> int:
    """Runs one check; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ops.healthcheck", description=__doc__)
    parser.add_argument("url", nargs="?", help="http(s) URL that must answer 2xx")
    parser.add_argument("--contains", help="text the URL's body must contain")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--file", type=Path, help="a heartbeat file that must be fresh")
    parser.add_argument("--max-age", type=float, default=120.0, help="seconds (default 120)")
    args = parser.parse_args(argv)
    if (args.url is None) == (args.file is None):
        parser.error("give either a URL or --file")
    if args.url is not None:
        problem = check_url(args.url, contains=args.contains, timeout=args.timeout)
    else:
        problem = check_file(args.file, max_age=args.max_age)
    if problem is not None:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
