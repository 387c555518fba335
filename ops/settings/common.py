"""What every settings section shares: the secret type that refuses placeholders, and paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, SecretStr, ValidationError
from pydantic_core import PydanticCustomError

# A template's stand-ins, compared without case, spaces or punctuation; MinIO's well-known
# default credentials count too.
_PLACEHOLDER_WORDS = frozenset(
    {
        "changeme",
        "secret",
        "todo",
        "password",
        "placeholder",
        "yourapikey",
        "yoursecretkey",
        "yourtoken",
        "minioadmin",
    }
)
_TOKEN_PREFIX = re.compile(r"[a-z]{2,5}[-_]")  # a vendor's kind of token: xoxb-, sk-, ghp_


def _word(text: str) -> str:
    return re.sub(r"[\W_]", "", text.lower())


def is_placeholder(value: str) -> bool:
    """Whether `value` is a template's stand-in rather than a real value: `changeme`,
    `xoxb-changeme`, `<your-api-key>`, `xxxx`, MinIO's default `minioadmin` and the like."""
    words = [_word(value)]
    prefix = _TOKEN_PREFIX.match(value.lower())
    if prefix:
        words.append(_word(value[prefix.end() :]))
    return any(w in _PLACEHOLDER_WORDS or (w and set(w) == {"x"}) for w in words)


def refuse_placeholder(value: str) -> str:
    """`value` itself, unless it is a placeholder; the error never repeats it."""
    if is_placeholder(value):
        raise PydanticCustomError("placeholder", "is a placeholder; set the real value or unset it")
    return value


def _real_secret(secret: SecretStr | None) -> SecretStr | None:
    if secret is None:
        return None
    value = secret.get_secret_value().strip()
    if not value:
        return None  # `LEXIMIND_X__TOKEN=` left empty in a .env file: not set
    return SecretStr(refuse_placeholder(value))


RealSecret = Annotated[SecretStr | None, AfterValidator(_real_secret)]
"""A secret setting: surrounding white space dropped, an empty value read as unset, and a
placeholder refused. Sections that need the secret say so in their own validators."""


def settings_errors(exc: ValidationError) -> str:
    """One line naming each refused setting by its variable, e.g. `LEXIMIND_LLM__API_KEY is a
    placeholder; ...`; no value is repeated (the settings hide inputs in errors, too)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        variable = "LEXIMIND_" + "__".join(str(part).upper() for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(message if message.startswith(variable) else f"{variable} {message}")
    return "; ".join(parts)


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "leximind"
