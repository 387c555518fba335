"""Long answers split under Discord's limit at paragraph ends, code fences closed and reopened."""

from __future__ import annotations

import random

import pytest

from bots.discord.splitting import DISCORD_LIMIT, split_message

PARAGRAPH = " ".join(["Leximind answers questions from the docs."] * 12)  # ~500 characters


def fences_balanced(message: str) -> bool:
    return message.count("```") % 2 == 0


def test_a_short_message_is_left_alone() -> None:
    """Under the limit nothing changes; whitespace-only text gives no message at all."""
    assert split_message("Run `make test` [1].") == ["Run `make test` [1]."]
    assert split_message(" \n \n") == []


def test_prose_is_split_between_paragraphs() -> None:
    """Paragraphs stay whole, and every message is under the limit."""
    text = "\n\n".join(f"{n}. {PARAGRAPH}" for n in range(10))
    messages = split_message(text)
    assert len(messages) > 1
    assert all(len(m) <= DISCORD_LIMIT for m in messages)
    paragraphs = [p for m in messages for p in m.split("\n\n")]
    assert paragraphs == text.split("\n\n")


def test_a_code_block_is_closed_and_reopened_with_its_language() -> None:
    """A block longer than a message continues in the next one under the same fence."""
    code = "\n".join(f"value_{i} = compute({i})  # step {i}" for i in range(200))
    text = f"Like this [1]:\n\n```python\n{code}\n```\n\nDone."
    messages = split_message(text)
    assert len(messages) >= 3
    assert all(len(m) <= DISCORD_LIMIT and fences_balanced(m) for m in messages)
    for message in messages[1:-1]:
        assert message.startswith("```python\n") and message.endswith("\n```")
    rejoined = "\n".join(messages).replace("\n```\n```python\n", "\n")
    assert rejoined == text


def test_a_block_that_fits_moves_whole_to_the_next_message() -> None:
    """A cut prefers the paragraph end before a code block to a cut inside it."""
    code = "```sh\n" + "\n".join(f"make step-{i}" for i in range(80)) + "\n```"
    text = f"{PARAGRAPH}\n\n{PARAGRAPH}\n\n{code}\n\nThat is all."
    first, second = split_message(text)
    assert first == f"{PARAGRAPH}\n\n{PARAGRAPH}"
    assert second == f"{code}\n\nThat is all."


def test_a_line_longer_than_a_message_is_cut_at_spaces() -> None:
    """One enormous line is cut inside itself, at a space, into pieces under the limit."""
    words = " ".join(f"word{i}" for i in range(1200))
    messages = split_message(words)
    assert all(len(m) <= DISCORD_LIMIT for m in messages)
    assert "".join(messages) == words
    assert all(m.endswith(" ") for m in messages[:-1])  # no word is cut in two


def test_unbroken_text_is_cut_hard() -> None:
    """Text without any space still fits, cut at the width."""
    messages = split_message("x" * 4500)
    assert len(messages) == 3
    assert "".join(messages) == "x" * 4500
    assert all(len(m) <= DISCORD_LIMIT for m in messages)


@pytest.mark.parametrize("limit", [100, 500])
def test_smaller_limits_hold_too(limit: int) -> None:
    """The limit is a parameter; fences stay balanced at any size that fits them."""
    text = "Intro.\n\n```py\n" + "\n".join(f"x = {i}" for i in range(300)) + "\n```"
    messages = split_message(text, limit=limit)
    assert all(len(m) <= limit and fences_balanced(m) for m in messages)


def test_a_limit_too_small_for_fences_is_refused() -> None:
    """A limit that cannot hold a reopened fence is a caller error, not a silent mess."""
    with pytest.raises(ValueError, match="no room"):
        split_message("y" * 200, limit=50)


def without_fences(text: str) -> str:
    kept = [line for line in text.split("\n") if not line.strip().startswith("```")]
    return "".join("".join(kept).split())


@pytest.mark.parametrize("seed", range(20))
def test_random_answers_keep_every_word_and_every_fence_balanced(seed: int) -> None:
    """Mixed prose, code and over-long lines: nothing lost, nothing over the limit."""
    rng = random.Random(seed)
    blocks = []
    for _ in range(rng.randint(3, 25)):
        kind = rng.choice(["prose", "code", "long"])
        if kind == "prose":
            blocks.append(" ".join(rng.choice(["run", "the", "tests", "[1]"]) for _ in range(80)))
        elif kind == "code":
            lines = [f"call_{i}({rng.random():.6f})" for i in range(rng.randint(1, 120))]
            blocks.append("```" + rng.choice(["", "py", "sh"]) + "\n" + "\n".join(lines) + "\n```")
        else:
            blocks.append("z" * rng.randint(1500, 5000))
    text = "\n\n".join(blocks)
    messages = split_message(text)
    assert all(0 < len(m) <= DISCORD_LIMIT and fences_balanced(m) for m in messages)
    assert without_fences("\n".join(messages)) == without_fences(text)
