"""Prompts number the passages, keep the conversation, and stay within the context budget."""

from __future__ import annotations

from core.prompting import build_messages
from core.types import Source, Turn
from tests.fakes import chunk


def test_passages_are_numbered_in_order_with_location() -> None:
    """Each passage is introduced as [n] path — title (lines a-b)."""
    sources = [
        Source(chunk("a.md", "alpha text", title="A", lines=(3, 9)), 0.5),
        Source(chunk("b.md", "beta text", title="B"), 0.4),
    ]
    messages = build_messages("what?", sources, project="proj")
    assert messages[0].role == "system" and "proj" in messages[0].content
    assert "Cite" in messages[0].content
    user = messages[-1].content
    assert user.index("[1] a.md — A (lines 3-9)\nalpha text") < user.index("[2] b.md — B")
    assert user.rstrip().endswith("Question: what?\n\nAnswer:")


def test_context_budget_truncates_but_keeps_every_number() -> None:
    """Long passages are cut so the prompt stays near the budget; all numbers remain."""
    sources = [Source(chunk(f"{i}.md", "word " * 2000, title=str(i)), 0.5) for i in range(5)]
    user = build_messages("q", sources, project="p", max_context_chars=3000)[-1].content
    assert len(user) < 3000 + 5 * 200
    assert all(f"[{n}]" in user for n in range(1, 6))


def test_history_becomes_alternating_turns() -> None:
    """Earlier turns become user/assistant messages before the question."""
    history = (Turn("q1", "a1"), Turn("q2", "a2"))
    messages = build_messages("q3", [], project="p", history=history)
    assert [(m.role, m.content) for m in messages[1:5]] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
    ]
    assert "(no passages found)" in messages[-1].content
