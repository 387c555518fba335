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
class _Piece:
    """A line, or a piece of an over-long one, and the code fence open after it.

    `continues` marks a piece that carries on the line before it (no line break between).
    """

    text: str
    fence_after: str | None
    continues: bool = False

    @property
    def cost(self) -> int:
        return len(self.text) + (0 if self.continues else 1)


def _pieces(text: str, width: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    fence: str | None = None
    for line in text.split("\n"):
        if line.count(FENCE) % 2 == 1:
            if fence is None:
                opener = line.strip()
                fence = opener if len(opener) <= _MAX_OPENER else FENCE
            else:
                fence = None
        parts = _cut_long_line(line, width)
        pieces.extend(_Piece(part, fence, continues=n > 0) for n, part in enumerate(parts))
    return pieces


def _cut_long_line(line: str, width: int) -> list[str]:
    parts = []
    while len(line) > width:
        space = line.rfind(" ", width // 2, width)
        at = space + 1 if space > 0 else width
        parts.append(line[:at])
        line = line[at:]
    parts.append(line)
    return parts


def _best_cut(pending: list[_Piece], fits: int, opening: str | None, limit: int) -> int:
    """How many of the `fits` first pieces the message keeps: ideally up to a paragraph end
    in its second half, else a line end outside code, else all of them."""
    if fits == len(pending):
        return fits
    size = len(opening) + 1 if opening else 0
    blank = line_end = 0
    for count, piece in enumerate(pending[:fits], start=1):
        size += piece.cost
        if size < limit // 2 or piece.fence_after is not None or pending[count].continues:
            continue
        line_end = count
        if not piece.text.strip():
            blank = count
    return blank or line_end or fits


def _render(pieces: list[_Piece], opening: str | None) -> str:
    body = opening or ""
    for number, piece in enumerate(pieces):
        glued = number > 0 and piece.continues
        body += piece.text if glued or not body else "\n" + piece.text
    if pieces and pieces[-1].fence_after is not None:
        body += "\n" + FENCE
    return body.strip("\n")


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """`text` as messages of at most `limit` characters, each with balanced code fences."""
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text.strip() else []
    if limit < 4 * _MAX_OPENER:
        raise ValueError(f"a message limit of {limit} leaves no room for code fences")
    pending = _pieces(text, width=limit - 2 * _MAX_OPENER)
    messages: list[str] = []
    opening: str | None = None
    while pending:
        taken: list[_Piece] = []
        size = len(opening) + 1 if opening else 0
        for piece in pending:
            closing = len(FENCE) + 1 if piece.fence_after is not None else 0
            if taken and size + piece.cost + closing > limit:
                break
            taken.append(piece)
            size += piece.cost
        keep = _best_cut(pending, len(taken), opening, limit)
        message = _render(taken[:keep], opening)
        if message.strip():
            messages.append(message)
        opening = taken[keep - 1].fence_after
        pending = pending[keep:]
    return messages
