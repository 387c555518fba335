"""CodeQA and CoNaLa readers turn the files into Alpaca examples and name bad files and lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.support.datasets import CODEQA_LINES, CONALA_RECORDS, write_lines
from training.errors import DatasetError
from training.sources import read_codeqa, read_conala, read_lines


def test_codeqa_slice_maps_question_code_answer(codeqa_dir: Path) -> None:
    """Each aligned line is one example, with the original (untokenised) code as input."""
    examples = list(read_codeqa(codeqa_dir))

    assert len(examples) == 2 * CODEQA_LINES
    first = examples[0]
    original_file = shared_data("codeqa", "python", "dev", "dev.code.original")
    original = original_file.read_text().split("\n")[0]
    assert first.instruction == "Does it have any filter rules ?"
    assert first.input == original.rstrip()
    assert first.output == "No"
    assert first.origin == "dev/dev.question:1" and first.source == "codeqa"


def test_codeqa_escapes_in_string_literals_stay_verbatim(codeqa_dir: Path) -> None:
    """The shared files hold `u'\\n'` as two characters of Python source: not unescaped."""
    examples = list(read_codeqa(codeqa_dir))
    escaped = [e for e in examples if "u'\\n'" in e.input]

    assert escaped, "the slice should contain code with a \\n escape"
    assert all("\n" not in e.input for e in examples)


def test_codeqa_examples_sharing_a_snippet_share_a_group(codeqa_dir: Path) -> None:
    """Two questions on the same function are one group, whatever the spacing."""
    examples = list(read_codeqa(codeqa_dir))
    by_input: dict[str, set[str]] = {}
    for e in examples:
        by_input.setdefault(e.input, set()).add(e.group)
    assert all(len(groups) == 1 for groups in by_input.values())
    assert len({e.group for e in examples}) < len(examples)


def test_codeqa_falls_back_to_tokenised_code(tmp_path: Path) -> None:
    """Without .code.original, the .code file is the input."""
    write_lines(tmp_path / "dev.question", ["What does it do ?"])
    write_lines(tmp_path / "dev.answer", ["nothing"])
    write_lines(tmp_path / "dev.code", ["def noop return None"])

    [example] = read_codeqa(tmp_path)

    assert example.input == "def noop return None"


def test_codeqa_misaligned_files_name_file_and_line(codeqa_dir: Path) -> None:
    """An answer file one line short fails, naming the longer file and the first orphan line."""
    answers = codeqa_dir / "test" / "test.answer"
    write_lines(answers, answers.read_text().split("\n")[:-1])

    with pytest.raises(DatasetError) as raised:
        list(read_codeqa(codeqa_dir))

    message = str(raised.value)
    assert f"test.question:{CODEQA_LINES}" in message and "test.answer" in message


def test_codeqa_missing_answer_file_is_named(tmp_path: Path) -> None:
    """A split without its .answer file fails, naming the file."""
    write_lines(tmp_path / "dev.question", ["q ?"])
    write_lines(tmp_path / "dev.code", ["def f pass"])

    with pytest.raises(DatasetError, match=r"dev\.answer: file not found"):
        list(read_codeqa(tmp_path))


def test_codeqa_folder_without_questions_fails(tmp_path: Path) -> None:
    """A folder with no *.question file, or no folder at all, is an error, not an empty set."""
    with pytest.raises(DatasetError, match="no CodeQA"):
        list(read_codeqa(tmp_path))
    with pytest.raises(DatasetError, match="not found"):
        list(read_codeqa(tmp_path / "missing"))


def test_read_lines_trailing_newline_crlf_and_bad_utf8(tmp_path: Path) -> None:
    """A final newline ends the last line; CRLF is one break; bad UTF-8 names its line."""
    path = tmp_path / "x.question"
    path.write_bytes(b"one\r\ntwo\x0cstill two\n")
    assert read_lines(path) == ["one", "two\x0cstill two"]
    path.write_bytes(b"ok\nok\nbad \xff byte")
    with pytest.raises(DatasetError, match=r"x\.question:3: not valid UTF-8"):
        read_lines(path)


def test_conala_uses_rewritten_intent_or_intent(tmp_path: Path) -> None:
    """A null rewritten_intent falls back to the intent; input is empty; grouped by question."""
    rows = [
        {"intent": "How to x?", "rewritten_intent": None, "snippet": "x()", "question_id": 1},
        {"intent": "How to y?", "rewritten_intent": "call `y`", "snippet": "y()", "question_id": 2},
    ]
    (tmp_path / "conala-train.json").write_text(json.dumps(rows))

    first, second = read_conala(tmp_path)

    assert (first.instruction, first.input, first.output) == ("How to x?", "", "x()")
    assert second.instruction == "call `y`"
    assert (first.group, second.group) == ("conala:1", "conala:2")


def test_conala_slice_reads_every_record(conala_dir: Path) -> None:
    """Both shared files are read, multi-line snippets keep their indentation."""
    examples = list(read_conala(conala_dir))
    assert len(examples) == 2 * CONALA_RECORDS
    assert all(e.instruction and e.output for e in examples)


def test_conala_malformed_json_names_line(tmp_path: Path) -> None:
    """Broken JSON fails with the file and the line of the syntax error."""
    (tmp_path / "conala-train.json").write_text('[\n {"intent": "a",\n "snippet" "b"}\n]')

    with pytest.raises(DatasetError, match=r"conala-train\.json:3: malformed JSON"):
        list(read_conala(tmp_path))


def test_conala_wrong_field_type_names_record_line(tmp_path: Path) -> None:
    """A record whose snippet is not a string fails, naming the line the record starts on."""
    good = {"intent": "a", "rewritten_intent": None, "snippet": "b", "question_id": 1}
    bad = {"intent": "c", "rewritten_intent": None, "snippet": ["d"], "question_id": 2}
    (tmp_path / "conala-test.json").write_text(json.dumps([good, bad], indent=1))

    with pytest.raises(DatasetError) as raised:
        list(read_conala(tmp_path))

    assert "conala-test.json:8: record 1: field 'snippet' should be str, got list" in str(
        raised.value
    )


def test_conala_missing_field_and_non_array(tmp_path: Path) -> None:
    """A record without question_id, or a file that is not an array, is refused."""
    path = tmp_path / "conala-train.json"
    path.write_text(json.dumps([{"intent": "a", "rewritten_intent": None, "snippet": "b"}]))
    with pytest.raises(DatasetError, match="missing field 'question_id'"):
        list(read_conala(tmp_path))
    path.write_text(json.dumps({"intent": "a"}))
    with pytest.raises(DatasetError, match="expected a JSON array"):
        list(read_conala(tmp_path))
