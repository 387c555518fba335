"""The object-store key layout every part of Leximind relies on, and key validation.

- `interactions/YYYY/MM/DD/<interaction id>.json`: one answered question
- `feedback/<interaction id>/<user hash>.json`: one user's current label on one answer
- `corrections/<interaction id>.json`: a maintainer's corrected answer (Label Studio import)
- `memory/<kb>/<entry id>.json`: one endorsed answer of the answer memory (core.memory)
- `datasets/<version>/...`: a training-data version (the ETL)
- `adapters/<version>/<file>`: a trained LoRA adapter (the experiment tracker)
- `analytics/...`: the dashboard's aggregate of the logs (web/analytics.py), rebuilt at will
"""

from __future__ import annotations

from datetime import UTC, datetime

INTERACTIONS = "interactions/"
FEEDBACK = "feedback/"
CORRECTIONS = "corrections/"
MEMORY = "memory/"
DATASETS = "datasets/"
ADAPTERS = "adapters/"
ANALYTICS = "analytics/"


def validate_key(key: str) -> str:
    """The key itself, if every store can hold it; else ValueError.

    A key is '/'-separated, relative, with no empty, '.' or '..' segment and no segment that
    starts with '.' (the local store keeps its temporary files under such names).
    """
    parts = key.split("/")
    if not key or any(not p or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


def validate_segment(value: str, *, what: str) -> str:
    """`value` if it can be one segment of a key (no '/', not hidden); else ValueError."""
    if not value or "/" in value or value.startswith(".") or "\\" in value or "\0" in value:
        raise ValueError(f"invalid {what} {value!r}: it must be usable as one key segment")
    return value


def parse_time(value: str, *, what: str) -> datetime:
    """An ISO-8601 time with a UTC offset; ValueError names `what` otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{what} {value!r} has no UTC offset")
    return parsed


def interaction_key(interaction_id: str, created_at: str) -> str:
    """`interactions/YYYY/MM/DD/<id>.json`, dated by when the question was asked (its UTC day)."""
    validate_segment(interaction_id, what="interaction id")
    asked = parse_time(created_at, what="interaction created_at").astimezone(UTC)
    day = asked.strftime("%Y/%m/%d")
    return f"{INTERACTIONS}{day}/{interaction_id}.json"


def feedback_key(interaction_id: str, user_hash: str) -> str:
    """`feedback/<interaction id>/<user hash>.json`: one current label per user and answer."""
    validate_segment(interaction_id, what="interaction id")
    validate_segment(user_hash, what="user hash")
    return f"{FEEDBACK}{interaction_id}/{user_hash}.json"


def adapter_key(version: str, filename: str) -> str:
    """`adapters/<version>/<file>`: one file of a trained LoRA adapter."""
    validate_segment(version, what="adapter version")
    validate_segment(filename, what="adapter file name")
    return f"{ADAPTERS}{version}/{filename}"


def memory_key(kb: str, entry_id: str) -> str:
    """`memory/<kb>/<entry id>.json`: one endorsed answer; the same source gives the same id."""
    validate_segment(kb, what="knowledge base")
    validate_segment(entry_id, what="memory entry id")
    return f"{MEMORY}{kb}/{entry_id}.json"
