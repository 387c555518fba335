"""Readers of the public datasets: CodeQA (line-aligned text files) and CoNaLa (JSON).

Each reader yields Examples with text normalised and a group id, and raises DatasetError
naming the file and line of the first thing it cannot trust.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.errors import DatasetError
from training.records import Example, content_group, normalise_block, normalise_line

CODEQA = "codeqa"
CONALA = "conala"


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, split on "\\n" only.

    A final newline ends the last line rather than starting an empty one; a "\\r" before a
    newline is dropped. Other separators (form feed, U+2028...) are content, not line breaks,
    so a file's line numbers are the ones `wc -l` and editors show.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DatasetError(f"{path}:{line}: not valid UTF-8 ({exc.reason})") from None
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def codeqa_splits(root: Path) -> list[Path]:
    """Every `<split>.question` file under `root` (e.g. dev/dev.question), sorted."""
    if not root.is_dir():
        raise DatasetError(f"{root}: CodeQA directory not found")
    found = sorted(root.rglob("*.question"))
    if not found:
        raise DatasetError(f"{root}: no CodeQA *.question files")
    return found


def read_codeqa(root: Path) -> Iterator[Example]:
    """CodeQA examples: question -> instruction, code -> input, answer -> output.

    Uses `<split>.code.original` when it exists, else the tokenised `<split>.code`. The
    shared copy keeps each function on one line with its line breaks removed; a "\\n" in
    it is the two characters of an escape inside a string literal (`u'\\n'.join(...)`), so
    the code is taken verbatim, never unescaped. Examples sharing a snippet share a group.
    """
    for question_file in codeqa_splits(root):
        stem = question_file.name.removesuffix(".question")
        folder = question_file.parent
        code_file = folder / f"{stem}.code.original"
        if not code_file.exists():
            code_file = folder / f"{stem}.code"
        files = [question_file, code_file, folder / f"{stem}.answer"]
        columns = [read_lines(f) for f in files]
        _check_aligned(files, columns)
        where = question_file.relative_to(root).as_posix()
        for n, (question, code, answer) in enumerate(zip(*columns, strict=True), start=1):
            input_text = normalise_block(code)
            yield Example(
                instruction=normalise_line(question),
                input=input_text,
                output=normalise_block(answer),
                source=CODEQA,
                group=content_group("codeqa", input_text),
                origin=f"{where}:{n}",
            )


def _check_aligned(files: list[Path], columns: list[list[str]]) -> None:
    counts = [len(c) for c in columns]
    if len(set(counts)) == 1:
        return
    shortest = min(range(len(files)), key=counts.__getitem__)
    longest = max(range(len(files)), key=counts.__getitem__)
    raise DatasetError(
        f"{files[longest]}:{counts[shortest] + 1}: line has no counterpart in "
        f"{files[shortest].name} ({counts[longest]} lines against {counts[shortest]}); "
        "CodeQA files must be line-aligned"
    )


def conala_files(root: Path) -> list[Path]:
    """The `conala-*.json` files in `root`, sorted."""
    if not root.is_dir():
        raise DatasetError(f"{root}: CoNaLa directory not found")
    found = sorted(root.glob("conala-*.json"))
    if not found:
        raise DatasetError(f"{root}: no conala-*.json files")
    return found


def read_conala(root: Path) -> Iterator[Example]:
    """CoNaLa examples: rewritten intent (the intent when null) -> instruction, snippet ->
    output, empty input; grouped by Stack Overflow question id."""
    for path in conala_files(root):
        text = "\n".join(read_lines(path))
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg}") from None
        if not isinstance(rows, list):
            raise DatasetError(f"{path}:1: expected a JSON array of records")
        for index, row in enumerate(rows):
            yield _conala_example(path, text, index, row)


def _conala_example(path: Path, text: str, index: int, row: Any) -> Example:
    problem = _conala_problem(row)
    if problem:
        line = _array_item_line(text, index)
        raise DatasetError(f"{path}:{line}: record {index}: {problem}")
    intent = row["rewritten_intent"] or row["intent"]
    return Example(
        instruction=normalise_line(intent),
        input="",
        output=normalise_block(row["snippet"]),
        source=CONALA,
        group=f"conala:{row['question_id']}",
        origin=f"{path.name}#{index}",
    )


def _conala_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return f"expected an object, got {type(row).__name__}"
    expected: dict[str, tuple[type, ...]] = {
        "intent": (str,),
        "rewritten_intent": (str, type(None)),
        "snippet": (str,),
        "question_id": (int, str),
    }
    for field, types in expected.items():
        if field not in row:
            return f"missing field {field!r}"
        value = row[field]
        if isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            return f"field {field!r} should be {names}, got {type(value).__name__}"
    return None


def _array_item_line(text: str, index: int) -> int:
    """The line on which item `index` of the top-level JSON array starts (error path only)."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    for _ in range(index + 1):
        while text[position] in " \t\r\n,":
            position += 1
        start = position
        _, position = decoder.raw_decode(text, position)
    return text.count("\n", 0, start) + 1
