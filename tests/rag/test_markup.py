"""reStructuredText and Markdown become clean text: no adornments or roles, directives as
prose, literal blocks as fenced code that keeps its lines."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

from rag.chunking import chunk_file
from rag.chunking.markup import clean_markdown, clean_markup, clean_rst

CLICK_LIKE = Path(__file__).parent / "data" / "testing.rst"


def test_rst_titles_lose_their_underlines_and_overlines() -> None:
    text = "=====\nGuide\n=====\n\nIntro text.\n\nInstall\n-------\nRun pip.\n"
    assert clean_rst(text) == "Guide\n\nIntro text.\n\nInstall\n\nRun pip."


def test_rst_transition_between_paragraphs_is_not_taken_for_a_title() -> None:
    # A transition has blank lines around it; it is not an underline of the line above.
    assert clean_rst("One.\n\n----------\n\nTwo.") == "One.\n\n----------\n\nTwo."


def test_rst_roles_become_their_text_code_roles_inline_code() -> None:
    text = (
        "Use :func:`invoke`, :class:`~click.testing.CliRunner`, :meth:`Result.output`, "
        ":ref:`the guide <testing>`, :doc:`upgrading`, :pep:`8` and ``echo()``."
    )
    assert clean_rst(text) == (
        "Use `invoke`, `CliRunner`, `Result.output`, the guide, upgrading, PEP 8 and `echo()`."
    )


def test_rst_links_references_and_footnotes() -> None:
    text = "See `pytest <https://pytest.org>`_, the Tutorial_ section and `Other Page`_ [#]_."
    assert (
        clean_rst(text) == "See [pytest](https://pytest.org), the Tutorial section and Other Page."
    )


def test_rst_literal_block_after_double_colon_keeps_its_lines() -> None:
    text = dedent(
        """\
        Write a test::

            def test_hello():
                assert hello() == 1

        Then run it.
        """
    )
    assert clean_rst(text) == (
        "Write a test:\n\n```python\ndef test_hello():\n    assert hello() == 1\n```"
        "\n\nThen run it."
    )


def test_rst_expanded_literal_marker_alone_disappears() -> None:
    text = "Output:\n\n::\n\n    $ pytest\n    1 passed\n"
    assert clean_rst(text) == "Output:\n\n```console\n$ pytest\n1 passed\n```"


def test_rst_code_block_directive_is_fenced_with_its_language_and_no_options() -> None:
    text = ".. code-block:: shell\n   :caption: run.sh\n\n   pip install click\n   pytest -q\n"
    assert clean_rst(text) == "```shell\npip install click\npytest -q\n```"


def test_rst_admonitions_read_as_prose() -> None:
    text = ".. note::\n\n   Only for tests.\n   Not thread-safe.\n\n.. warning:: Slow.\n"
    assert clean_rst(text) == "Note: Only for tests.\nNot thread-safe.\n\nWarning: Slow."


def test_rst_generic_admonition_takes_its_title_as_label() -> None:
    assert clean_rst(".. admonition:: Why?\n\n   Because.\n") == "Why?: Because."


def test_rst_version_notes_read_as_prose() -> None:
    text = ".. versionadded:: 8.0\n    The ``env`` argument.\n\n.. deprecated:: 9.1\n"
    assert clean_rst(text) == (
        "New in version 8.0: The `env` argument.\n\nDeprecated since version 9.1:"
    )


def test_rst_targets_comments_substitutions_and_toctrees_vanish() -> None:
    text = dedent(
        """\
        .. _label:

        .. This is a comment
           over two lines.

        .. |logo| image:: logo.png

        .. toctree::
           :maxdepth: 2

           intro
           api

        Text stays.
        """
    )
    assert clean_rst(text) == "Text stays."


def test_rst_include_directives_are_left_for_include_resolution() -> None:
    text = "Example:\n\n.. literalinclude:: ../examples/app.py\n   :lines: 1-5\n"
    assert ".. literalinclude:: ../examples/app.py" in clean_rst(text)


def test_rst_unknown_directive_shows_its_body_as_code_when_it_is_code() -> None:
    code = ".. click:example::\n\n    @click.command()\n    def sync():\n        pass\n"
    assert clean_rst(code) == "```python\n@click.command()\ndef sync():\n    pass\n```"
    prose = ".. sidebar:: Aside\n\n    Some words here.\n"
    assert clean_rst(prose) == "Some words here."


def test_rst_api_objects_show_their_signature_as_code() -> None:
    text = ".. autoclass:: CliRunner\n    :members:\n\n.. function:: echo(message)\n\n   Prints.\n"
    assert clean_rst(text) == "`CliRunner`\n\n`echo(message)`\nPrints."


def test_click_like_page_is_clean_in_every_chunk() -> None:
    """A page in the style of click's docs: no adornment, role, directive or `::` is left,
    and each code block keeps its lines."""
    text = CLICK_LIKE.read_text()
    chunks = chunk_file(kb="kb", path="docs/testing.rst", text=text)
    joined = "\n".join(c.text for c in chunks)
    assert not re.search(r"^[=\-~^]{3,}\s*$", joined, re.MULTILINE)
    assert not re.search(r":\w+:`", joined)
    assert ".. " not in joined and "::" not in joined
    assert not re.search(r"(?<!`)``(?!`)", joined)
    assert "Note: These tools should only be used for testing" in joined
    assert "New in version 8.0: The `catch_exceptions` argument." in joined
    assert "```python\nimport click\n\n@click.command()\n@click.argument('name')\n" in joined
    assert "    runner = CliRunner()\n    result = runner.invoke(hello, ['Peter'])\n" in joined
    assert [c.title for c in chunks][-1].startswith("Testing Click Applications")


def test_markdown_setext_underlines_and_heading_attributes_go() -> None:
    text = "Guide\n=====\n\nText.\n\n## Install { #install }\n\nMore.\n"
    assert clean_markdown(text) == "Guide\n\nText.\n\n## Install\n\nMore."


def test_markdown_list_and_table_lines_are_not_setext_titles() -> None:
    text = "- item\n---\n\n| a |\n|---|\n| b |"
    assert clean_markdown(text) == text


def test_markdown_fenced_code_is_untouched() -> None:
    text = "Run:\n\n```rst\nTitle\n=====\n.. note::\n   <abbr>x</abbr>\n```\n\nDone."
    assert clean_markdown(text) == text


def test_markdown_admonitions_of_every_syntax_read_as_prose() -> None:
    material = '!!! warning "Careful"\n    Do not <abbr title="x">run</abbr> twice.\n'
    assert clean_markdown(material) == "Warning: Careful\nDo not run twice."
    blocks = "/// tip | Hint\n\nUse `--reload` while developing.\n\n///\n\nAfter."
    assert clean_markdown(blocks) == "Tip: Hint\nUse `--reload` while developing.\n\nAfter."
    alert = "> [!NOTE]\n> Requires Python 3.8.\n"
    assert clean_markdown(alert) == "Note: Requires Python 3.8."


def test_markdown_comments_and_inline_tags_go_but_inline_code_keeps_them() -> None:
    text = "<!-- hidden -->\nAn <abbr title='Application'>app</abbr> with `<span>` in code."
    assert clean_markdown(text) == "An app with `<span>` in code."


def test_other_languages_are_unchanged() -> None:
    assert clean_markup(":func:`x`\n====", "text") == ":func:`x`\n===="
