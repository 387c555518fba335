"""HTTP-mode requests from Slack: the v0 signature and the shape of the body, checked before
Bolt parses anything.

Slack signs `v0:<timestamp>:<body>` with the app's signing secret (HMAC-SHA256) and sends the
timestamp and signature as headers; a request older than five minutes is refused, so a
captured one cannot be replayed. Bolt would raise on a timestamp that is not an integer or a
body that is not UTF-8 JSON or a form; here such requests become one-sentence reasons.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

MAX_AGE_S = 300  # Slack's replay window: five minutes either way
_MAX_STAMP_DIGITS = 12  # a Unix time in seconds until the year 33658

_ID = (str, dict, type(None))  # Slack sends an id, an object with `id`, or (team) null
# The JSON types of the fields Bolt reads from an envelope and from its `event`, as Slack
# sends them; Bolt indexes into them without checking.
_ENVELOPE: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "event": (dict,),
    "authorizations": (list,),
    "team": _ID,
    "enterprise": _ID,
    "user": _ID,
    "channel": _ID,
    "view": (dict,),
    "message": (dict,),
    "previous_message": (dict,),
    "container": (dict,),
    "actions": (list,),
    "response_urls": (list,),
    "function_data": (dict,),
    "assistant_thread": (dict,),
}


def signature_problem(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float
) -> str | None:
    """Why the request is not Slack's (a missing, malformed, stale or wrong signature), or
    None when it is. The signature is compared in constant time."""
    stamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if stamp is None or signature is None:
        return "the request is not signed: X-Slack-Signature and X-Slack-Request-Timestamp"
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_STAMP_DIGITS):
        return "X-Slack-Request-Timestamp is not a Unix time in seconds"
    if abs(now - int(stamp)) > MAX_AGE_S:
        return "X-Slack-Request-Timestamp is more than five minutes away from now"
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    expected = b"v0=" + mac.hexdigest().encode()
    # Starlette decodes header values as Latin-1, so this gives back the bytes received.
    if not hmac.compare_digest(expected, signature.encode("latin-1")):
        return "the signature does not match the body"
    return None


def content_problem(body: bytes, content_type: str | None) -> str | None:
    """Why a signed body is not one Slack sends (empty, not UTF-8, or not a JSON object where
    Bolt expects one: the body, or a form's `payload` field), or None.

    Follows Bolt's own reading: JSON when the type says so or the text starts with `{`, else
    a form whose `payload` field, when present, holds the JSON.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the request body is not UTF-8 text"
    if not text.strip():
        return "the request body is empty"
    if content_type == "application/json" or text.startswith("{"):
        return _object_problem(text, what="the request body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _object_problem(payload, what="the payload field")
    return None


def _object_problem(text: str, *, what: str) -> str | None:
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        return f"{what} is not valid JSON"
    if not isinstance(value, dict):
        return f"{what} is not a JSON object"
    return _shape_problem(value, what=what)


def _shape_problem(envelope: dict[str, Any], *, what: str) -> str | None:
    """The first field of the envelope (or of its event, or of its first authorization)
    whose JSON type is not the one Slack sends, named."""
    parts = [("", envelope)]
    for inner in ("event", "authorizations"):
        found = envelope.get(inner)
        if isinstance(found, list):
            found = found[0] if found else None
        if found is not None:
            parts.append((f"{inner}.", found))
    for prefix, part in parts:
        if not isinstance(part, dict):
            return f"{what}: {prefix.rstrip('.')} is not an object"
        for field, types in _ENVELOPE.items():
            if field in part and not isinstance(part[field], types):
                return f"{what}: {prefix}{field} is not what Slack sends"
    return None
