"""Links in passages resolve to the knowledge base's files, the way docs sites resolve them."""

from __future__ import annotations

from rag.links import linked_paths

KNOWN = {
    "docs/index.md",
    "docs/guide/install.md",
    "docs/guide/index.md",
    "docs/api/responses.md",
    "docs/api/errors.rst",
    "docs/api/README.md",
    "README.md",
}


def test_markdown_links_resolve_relative_to_the_passage() -> None:
    """Relative targets, `..`, fragments, titles and angle brackets resolve to known files."""
    text = (
        'See [install](install.md#linux), [responses](../api/responses.md "Responses"),\n'
        "[home](<../index.md>) and [top](../../README.md?plain=1)."
    )
    assert linked_paths("docs/guide/setup.md", text, KNOWN) == [
        "docs/guide/install.md",
        "docs/api/responses.md",
        "docs/index.md",
        "README.md",
    ]


def test_rendered_site_links_find_their_source_page() -> None:
    """Targets without a suffix, folder targets and built `.html` pages map to sources."""
    text = "[a](../api/responses) [b](../api/) [c](../api/errors.html) [d](index.html) [e](./)"
    assert linked_paths("docs/guide/setup.md", text, KNOWN) == [
        "docs/api/responses.md",
        "docs/api/README.md",
        "docs/api/errors.rst",
        "docs/guide/index.md",
    ]


def test_reference_html_and_rst_links() -> None:
    """Markdown reference definitions, HTML anchors and reST links are read too."""
    text = (
        "[install][i]\n\n[i]: guide/install.md\n"
        '<a href="api/responses.md#x">responses</a>\n'
        "`errors <api/errors.rst>`_ and :doc:`guide/index`"
    )
    assert linked_paths("docs/index.md", text, KNOWN) == [
        "docs/guide/install.md",
        "docs/api/responses.md",
        "docs/api/errors.rst",
        "docs/guide/index.md",
    ]


def test_urls_outside_links_self_links_and_unknown_files_are_not_followed() -> None:
    """Web URLs, site-absolute paths, escapes from the repository, the passage's own file,
    anchors within it and files the knowledge base lacks give nothing."""
    text = (
        "[web](https://example.org/docs/index.md) [mail](mailto:a@b.c) [abs](/docs/index.md)\n"
        "[up](../../../etc/passwd) [self](setup.md#part) [anchor](#part) [gone](missing.md)\n"
        "![logo](../img/logo.png) [twice](install.md) [again](install.md)"
    )
    assert linked_paths("docs/guide/setup.md", text, KNOWN | {"docs/guide/setup.md"}) == [
        "docs/guide/install.md"
    ]
    assert linked_paths("docs/guide/setup.md", "no links at all", KNOWN) == []
