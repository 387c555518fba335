"""Long Markdown split into Discord messages without breaking code blocks.

A cut inside a ``` block closes the fence at the end of one message and reopens it, with
its language, at the start of the next, so every message renders on its own. Cuts fall at a
blank line outside code when one is near the end of a message, else at a line break, and
only a single line longer than a message is cut inside the line (at a space if it can).
"""

from __future__ import annotations

from dataclasses import dataclass

DISCORD_LIMIT = 2000
FENCE = "```"
_MAX_OPENER = 24  # a reopened fence keeps at most this much of its opening line


@dataclass(frozen=True, slots=True)
class _Line:
    """A line and the code fence open after it (None outside code)."""

    text: str
    fence_after: str | None


def _annotate(lines: list[str]) -> list[_Line]:
    annotated = []
    fence: str | None = None
    for text in lines:
        if text.count(FENCE) % 2 == 1:
            if fence is None:
                opener = text.strip()
                fence = opener if len(opener) <= _MAX_OPENER else FENCE
            else:
                fence = None
        annotated.append(_Line(text, fence))
    return annotated


def _cut_long_line(line: str, width: int) -> list[str]:
    pieces = []
    while len(line) > width:
        space = line.rfind(" ", width // 2, width)
        at = space + 1 if space > 0 else width
        pieces.append(line[:at])
        line = line[at:]
    pieces.append(line)
    return pieces


def _best_cut(lines: list[_Line], opening: str | None, limit: int) -> int:
    """How many of `lines` the message keeps: at least one, ideally up to a paragraph end."""
    sizes = [len(opening) + 1 if opening else 0]
    for line in lines:
        sizes.append(sizes[-1] + len(line.text) + 1)
    blank = line_end = 0
    for count in range(1, len(lines) + 1):
        if sizes[count] < limit // 2:
            continue
        if lines[count - 1].fence_after is None:
            line_end = count
            if not lines[count - 1].text.strip():
                blank = count
    return blank or line_end or len(lines)


def _render(lines: list[_Line], opening: str | None) -> str:
    body = [opening] if opening else []
    body.extend(line.text for line in lines)
    if lines and lines[-1].fence_after is not None:
        body.append(FENCE)
    return "\n".join(body).strip("\n")


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """`text` as messages of at most `limit` characters, each with balanced code fences."""
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text.strip() else []
    if limit < 4 * _MAX_OPENER:
        raise ValueError(f"a message limit of {limit} leaves no room for code fences")
    width = limit // 2
    raw = [piece for line in text.split("\n") for piece in _cut_long_line(line, width)]
    pending = _annotate(raw)
    messages: list[str] = []
    opening: str | None = None
    while pending:
        taken: list[_Line] = []
        size = len(opening) + 1 if opening else 0
        for line in pending:
            closing = len(FENCE) + 1 if line.fence_after is not None else 0
            if taken and size + len(line.text) + 1 + closing > limit:
                break
            taken.append(line)
            size += len(line.text) + 1
        keep = len(taken) if len(taken) == len(pending) else _best_cut(taken, opening, limit)
        message = _render(taken[:keep], opening)
        if message.strip():
            messages.append(message)
        opening = taken[keep - 1].fence_after
        pending = pending[keep:]
    return messages
