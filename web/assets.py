"""The page's and the widget's scripts and styles, shipped in the package and served as is.

No build step: a script is its files joined inside one function scope, so nothing leaks
into the global scope of a docs site that embeds the widget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

from web.render import code_stylesheet

_STATIC = files("web") / "static"


def _read(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


def _scoped(*parts: str) -> str:
    return "(function () {\n" + "\n".join(parts) + "\n})();\n"


@dataclass(frozen=True, slots=True)
class Assets:
    """Every served asset's text, read once."""

    page_js: str
    widget_js: str
    page_css: str
    code_css: str

    @classmethod
    def load(cls) -> Assets:
        client = _read("client.js")
        code_css = code_stylesheet()
        answer_css = _read("answer.css")
        # The widget's styles go into its shadow root through the CSSOM (adoptedStyleSheets),
        # which a strict Content-Security-Policy of the host page allows, unlike <style>.
        widget_css = json.dumps(answer_css + _read("widget.css") + code_css)
        return cls(
            page_js=_scoped(client, _read("page.js")),
            widget_js=_scoped(f"const WIDGET_CSS = {widget_css};", client, _read("widget.js")),
            page_css=answer_css + _read("page.css"),
            code_css=code_css,
        )
