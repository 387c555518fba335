"""One training example in Alpaca form, its provenance, and the text normalisation rules."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_BLANK_RUNS = re.compile(r"\n{3,}")
_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u202f": " ", "\ufeff": None})


@dataclass(frozen=True, slots=True)
class Example:
    """An Alpaca record (instruction, input, output) with where it came from.

    `source` names the dataset ("codeqa", "conala", "feedback"); `group` is the origin that
    must not be split across train and test (a CoNaLa question id, a CodeQA code snippet, an
    interaction id); `origin` points at the input for messages, e.g. "dev.question:17".
    """

    instruction: str
    input: str
    output: str
    source: str
    group: str
    origin: str

    def alpaca(self) -> dict[str, str]:
        """The record as written to train.json / test.json."""
        return {"instruction": self.instruction, "input": self.input, "output": self.output}

    @property
    def chars(self) -> int:
        return len(self.instruction) + len(self.input) + len(self.output)


def normalise_line(text: str) -> str:
    """Prose on one line: every run of whitespace, newlines included, becomes one space."""
    return " ".join(text.translate(_SPACES).split())


def normalise_block(text: str) -> str:
    """Code or multi-line prose: line structure and indentation kept.

    Line endings become "\\n", no-break spaces plain spaces, trailing spaces go, runs of blank
    lines shrink to one, and leading/trailing blank lines are removed.
    """
    text = text.translate(_SPACES).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")


def _canonical(text: str) -> str:
    return " ".join(text.casefold().split())


def pair_key(instruction: str, input_text: str) -> str:
    """Hash of (instruction, input) ignoring case and whitespace: the leakage unit."""
    joined = f"{_canonical(instruction)}\x1f{_canonical(input_text)}"
    return hashlib.sha256(joined.encode()).hexdigest()


def record_key(example: Example) -> str:
    """Hash of the whole record ignoring case and whitespace: the duplicate unit."""
    joined = f"{pair_key(example.instruction, example.input)}\x1f{_canonical(example.output)}"
    return hashlib.sha256(joined.encode()).hexdigest()


def content_group(prefix: str, text: str) -> str:
    """A group id from content, e.g. one CodeQA code snippet however it is spaced."""
    return f"{prefix}:{hashlib.sha256(_canonical(text).encode()).hexdigest()[:24]}"
