"""What keeps the web surface safe: CSP headers, CSRF tokens, origin checks, the admin token
and a per-client rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Every page: scripts, styles and requests only from this server, no inline code, no frames.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
CSRF_HEADER = "x-leximind-csrf"
CSRF_FIELD = "csrf"
ADMIN_COOKIE = "leximind_admin"


class Signer:
    """HMAC-SHA256 tokens under the web's secret key: CSRF tokens and admin sessions.

    A CSRF token is `<issued at>.<signature>`, valid for `csrf_ttl` seconds. No server state:
    every replica with the same key accepts it. A cross-site page cannot read one (the
    session endpoint answers only this site and the allowed origins), so it cannot send one.
    """

    def __init__(
        self,
        key: bytes,
        *,
        csrf_ttl: float = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the web secret key must be at least 16 bytes")
        self._key = key
        self._ttl = csrf_ttl
        self._clock = clock

    def _sign(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def csrf_token(self) -> str:
        issued = str(int(self._clock()))
        return f"{issued}.{self._sign('csrf', issued)}"

    def valid_csrf(self, token: str | None) -> bool:
        if not token or token.count(".") != 1:
            return False
        issued, signature = token.split(".")
        if not issued.isdigit() or not hmac.compare_digest(signature, self._sign("csrf", issued)):
            return False
        return 0 <= self._clock() - int(issued) <= self._ttl

    def admin_session(self, token: str) -> str:
        """The cookie value standing for a signed-in admin: derived from the token, not it."""
        return self._sign("admin-session", hashlib.sha256(token.encode()).hexdigest())


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the configured one."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def origin_of(headers: Mapping[str, str]) -> str | None:
    """The request's Origin header, lower-cased; None when absent or `null`."""
    origin = headers.get("origin")
    if not origin or origin == "null":
        return None
    return origin.lower()


def own_origin(scheme: str, host: str) -> str:
    return f"{scheme}://{host}".lower()


def new_key() -> bytes:
    return secrets.token_bytes(32)


class SlidingWindowLimiter:
    """At most `limit` events per key in any `window` seconds, in this process's memory.

    For the client address: one browser cannot get round the per-browser limit by making
    up new ids. Keys not seen for a window are forgotten.
    """

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._next_sweep = 0.0

    def allow(self, key: str) -> bool:
        if self._limit <= 0:
            return True
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) >= self._limit:
            return False
        events.append(now)
        return True

    def _sweep(self, now: float) -> None:
        stale = [k for k, e in self._events.items() if not e or e[-1] <= now - self._window]
        for key in stale:
            del self._events[key]
        self._next_sweep = now + self._window


class AllowedOriginsCors:
    """CORS for the allowed origins only, read from the web surface once the app has started
    (`app.state.web`, built in the lifespan): Starlette's CORSMiddleware, made on first use.

    No credentials are allowed cross-site: the widget sends no cookies. A preflight from any
    other origin is refused, so a browser lets no other site call the API.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._cors: ASGIApp | None = None
        self._origins: tuple[str, ...] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        web = getattr(scope["app"].state, "web", None)
        origins = tuple(web.settings.allowed_origins) if web is not None else ()
        if not origins:
            await self._app(scope, receive, send)
            return
        if self._cors is None or origins != self._origins:
            self._cors = CORSMiddleware(
                self._app,
                allow_origins=list(origins),
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", CSRF_HEADER],
                allow_credentials=False,
                max_age=600,
            )
            self._origins = origins
        await self._cors(scope, receive, send)
