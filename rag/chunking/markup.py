"""Markup to clean text: what a reader of the rendered page sees, as plain Markdown.

Passages are quoted in answers and given to the model, so reStructuredText and Markdown
lose what only a renderer needs: heading adornments, roles, link targets, comments and
substitutions. Admonitions and version notes read as prose ("Note: ..."), and literal
blocks (`::`, `.. code-block::`, fenced code) become fenced code that keeps its lines.
Include directives are left as they are: resolving them is not markup cleaning.

Pure functions of the text; nothing here reads files.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable

# Admonitions and their prose label; `admonition` takes its label from its argument.
_ADMONITIONS = {
    "note": "Note",
    "warning": "Warning",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "caution": "Caution",
    "danger": "Danger",
    "attention": "Attention",
    "error": "Error",
    "info": "Info",
    "example": "Example",
    "abstract": "Summary",
    "summary": "Summary",
    "question": "Question",
    "success": "Success",
    "failure": "Failure",
    "bug": "Bug",
    "quote": "Quote",
    "check": "Check",
    "seealso": "See also",
    "todo": "To do",
}
_VERSIONS = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "versionremoved": "Removed in version",
}
_CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "testcode", "doctest"})
# Kept word for word: another stage resolves them.
_INCLUDES = frozenset({"include", "literalinclude"})
# Describe an API object: its signature becomes an inline-code line, its body stays.
_OBJECTS = re.compile(
    r"^(?:py:|js:|c:|cpp:|rst:|std:)?(?:function|class|method|attribute|data|exception|"
    r"decorator|classmethod|staticmethod|property|module|option|envvar|describe|object)$"
)
_AUTODOC = re.compile(r"^auto(?:function|class|method|attribute|data|exception|module|decorator)$")
# Produce nothing a reader sees.
_SILENT = frozenset(
    {
        "toctree",
        "contents",
        "highlight",
        "index",
        "meta",
        "raw",
        "image",
        "figure",
        "currentmodule",
        "sectionauthor",
        "moduleauthor",
        "codeauthor",
        "tabularcolumns",
        "default-role",
        "role",
        "include-graphics",
    }
)
_CODE_ROLES = re.compile(
    r"^(?:py:|js:|c:|cpp:)?(?:func|meth|class|attr|mod|obj|exc|data|const|option|envvar|"
    r"command|program|file|code|samp|kbd|makevar|type|member|var|macro|enum|struct)$"
)

_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\.[ \t]+(?P<name>[\w:.+-]+)::(?:[ \t]+(?P<arg>.*))?$"
)
_TARGET = re.compile(r"^[ \t]*\.\.[ \t]+(?:_[^:]*|__):(?:[ \t].*)?$")
_SUBSTITUTION = re.compile(r"^[ \t]*\.\.[ \t]+\|[^|]+\|[ \t]+[\w:-]+::")
_COMMENT = re.compile(r"^[ \t]*\.\.(?:[ \t]+.*)?$")
_FIELD_OPTION = re.compile(r"^:[\w -]+:(?:[ \t].*)?$")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_ROLE = re.compile(r":(?P<role>[\w:+.-]+):`(?P<body>[^`]+)`")
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_LINK = re.compile(r"`(?P<text>[^`<]+?)[ \t]*<(?P<url>[^`>]+)>`__?")
_RST_REFERENCE = re.compile(r"`(?P<text>[^`]+)`__?(?![\w`])")
_RST_FOOTNOTE = re.compile(r"[ \t]*\[(?:#[\w-]*|\*|\d+)\]_")
_SIMPLE_REFERENCE = re.compile(r"(?<![\w`])(?P<word>[A-Za-z][\w-]*)__?(?=[\s.,;:!?)]|$)")

_MD_ADMONITION = re.compile(
    r"^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+[\w -]*?)?"
    r"(?:[ \t]+\"(?P<title>[^\"]*)\")?[ \t]*$"
)
_MD_BLOCK = re.compile(r"^(?P<fence>/{3,})[ \t]*(?P<kind>[\w-]+)(?:[ \t]*\|[ \t]*(?P<title>.*))?$")
_MD_ALERT = re.compile(r"^>[ \t]*\[!(?P<kind>\w+)\][ \t]*$")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MD_ATTRIBUTES = re.compile(r"[ \t]*\{[ \t]*[#.:][^}]*\}[ \t]*$")
_MD_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_INLINE_TAG = re.compile(r"</?(?:abbr|span|em|strong|b|i|u|kbd|code|sup|sub|small|mark)\b[^>]*>")
_NOT_A_TITLE = re.compile(r"^\s*(?:<|[-*+>|](?:\s|$)|\d+[.)](?:\s|$))")


def clean_markup(text: str, language: str) -> str:
    """The text of a Markdown ("markdown") or reStructuredText ("rst") passage as clean
    text; other languages unchanged."""
    if language == "rst":
        return clean_rst(text)
    if language == "markdown":
        return clean_markdown(text)
    return text


def _tidy(lines: list[str]) -> str:
    """Lines joined with at most one blank line in a row, none at the ends (outside code)."""
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        line = line.rstrip()
        opened = _FENCE.match(line)
        if opened and (fence is None or opened.group(1)[0] == fence[0]):
            fence = None if fence is not None else opened.group(1)
        elif fence is None and not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _looks_like_python(code: str) -> bool:
    """Whether a block parses as Python and is more than a lone name or value."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    if not tree.body:
        return False
    lone = len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)
    return not (lone and isinstance(tree.body[0].value, ast.Name | ast.Constant))  # type: ignore[attr-defined]


def _guess_language(code: str) -> str:
    stripped = code.lstrip()
    if stripped.startswith(("$ ", "% ")):
        return "console"
    if stripped.startswith(">>>"):
        return "pycon"
    return "python" if _looks_like_python(code) else ""


def _fenced(body: list[str], language: str) -> list[str]:
    code = textwrap.dedent("\n".join(body)).strip("\n")
    if not code.strip():
        return []
    return [f"```{language}", *code.splitlines(), "```"]


def _indented_block(lines: list[str], start: int, indent: int) -> int:
    """The end of the block of lines after `start` indented deeper than `indent` (blank
    lines inside it included, trailing ones not)."""
    end = start
    index = start
    while index < len(lines):
        line = lines[index]
        if line.strip():
            if len(line) - len(line.lstrip()) <= indent:
                break
            end = index + 1
        index += 1
    return end


# reStructuredText


def clean_rst(text: str) -> str:
    """reStructuredText as clean text (see the module's docstring)."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        indent = len(line) - len(line.lstrip())
        directive = _DIRECTIVE.match(line)
        if _is_adornment(lines, index):
            index += 1
            if out and out[-1].strip():
                out.append("")  # the title stands alone, as a rendered heading does
            continue
        if directive and directive.group("name").lower() in _INCLUDES:
            out.append(line)
            index += 1
            continue
        if directive or _SUBSTITUTION.match(line) or _TARGET.match(line):
            end = _indented_block(lines, index + 1, indent)
            if directive:
                out.extend(_directive(directive, lines[index + 1 : end], indent))
            index = end
            continue
        if _COMMENT.match(line):  # a comment, with any indented lines after it
            index = _indented_block(lines, index + 1, indent)
            continue
        if (line.rstrip().endswith("::") and line.strip() != "::") or line.strip() == "::":
            end = _indented_block(lines, index + 1, indent)
            if end > index + 1:
                lead = line.rstrip()[:-2].rstrip()
                if lead.strip():
                    out.append(_inline_rst(lead if lead.endswith(":") else lead + ":"))
                body = lines[index + 1 : end]
                language = _guess_language(textwrap.dedent("\n".join(body)))
                out.append("")
                out.extend(" " * indent + b for b in _fenced(body, language))
                out.append("")
                index = end
                continue
        out.append(_inline_rst(line))
        index += 1
    return _tidy(out)


def _is_adornment(lines: list[str], index: int) -> bool:
    """Whether line `index` is a section title's underline or overline."""
    if not _RST_ADORNMENT.match(lines[index]):
        return False
    above = lines[index - 1] if index > 0 else ""
    below = lines[index + 1] if index + 1 < len(lines) else ""
    if above.strip() and not _RST_ADORNMENT.match(above):
        return True  # an underline (a transition needs blank lines around it)
    twin = index + 2 < len(lines) and lines[index + 2].strip() == lines[index].strip()
    return bool(below.strip()) and twin  # an overline


def _directive(match: re.Match[str], body: list[str], indent: int) -> list[str]:
    """What a reader sees of one directive with its (indented) body."""
    name = match.group("name").lower()
    argument = (match.group("arg") or "").strip()
    content = body
    while content and (_FIELD_OPTION.match(content[0].strip()) or not content[0].strip()):
        if not content[0].strip():
            content = content[1:]
            break
        content = content[1:]
    pad = " " * indent
    if name in _SILENT or (name.startswith("only") and not content):
        return []
    if name in _CODE_DIRECTIVES:
        guessed = _guess_language(textwrap.dedent("\n".join(content)))
        language = argument.split()[0] if argument else guessed
        return ["", *(pad + line for line in _fenced(content, language)), ""]
    if _AUTODOC.match(name):
        return ["", f"{pad}`{argument}`", ""] if argument else []
    if _OBJECTS.match(name):
        prose = _prose(content)
        return ["", f"{pad}`{argument}`" if argument else "", *(pad + p for p in prose), ""]
    if name in _VERSIONS or name in _ADMONITIONS or name == "admonition":
        if name in _VERSIONS:
            label = f"{_VERSIONS[name]} {argument}" if argument else _VERSIONS[name]
            first: list[str] = []
        elif name == "admonition":
            label, first = argument or "Note", []
        else:
            label = _ADMONITIONS[name]
            first = [argument] if argument else []
        return _labelled(label, [*first, *_prose(content)], pad)
    if not content:
        return [pad + _inline_rst(argument)] if argument else []
    # Any other directive (a project's own, e.g. an example runner): its body shows as
    # code when it is code, as prose when it is prose.
    code = textwrap.dedent("\n".join(content))
    language = _guess_language(code)
    if language:
        return ["", *(pad + line for line in _fenced(content, language)), ""]
    return ["", *(pad + p for p in _prose(content)), ""]


def _prose(body: list[str]) -> list[str]:
    """An indented directive body, dedented and cleaned as reST itself."""
    return clean_rst(textwrap.dedent("\n".join(body))).splitlines() if body else []


def _labelled(label: str, content: list[str], pad: str) -> list[str]:
    """`Label: first paragraph...` with the rest of the content after it."""
    if not content or not content[0].strip() or content[0].startswith("```"):
        return ["", f"{pad}{label}:", *(pad + c for c in content), ""]
    return ["", f"{pad}{label}: {content[0]}", *(pad + c for c in content[1:]), ""]


def _role(match: re.Match[str]) -> str:
    role, body = match.group("role").lower(), match.group("body").strip()
    target = re.fullmatch(r"(?P<text>.*?)\s*<(?P<target>[^>]+)>", body, re.DOTALL)
    if target and target.group("text"):
        body = target.group("text")
    elif body.startswith("~"):
        body = body[1:].rsplit(".", 1)[-1]
    body = body.lstrip("!")
    if role in ("pep", "rfc"):
        return f"{role.upper()} {body}"
    if _CODE_ROLES.match(role):
        return f"`{body}`"
    return body


def _inline_rst(line: str) -> str:
    """One line's inline markup: roles, ``literals``, `links <url>`_, references."""
    line = _ROLE.sub(_role, line)
    line = _RST_LITERAL.sub(lambda m: f"`{m.group(1)}`", line)
    line = _RST_LINK.sub(lambda m: f"[{m.group('text').strip()}]({m.group('url').strip()})", line)
    line = _RST_FOOTNOTE.sub("", line)
    line = _outside_code(line, lambda s: _RST_REFERENCE.sub(lambda m: m.group("text"), s))
    return _outside_code(line, lambda s: _SIMPLE_REFERENCE.sub(lambda m: m.group("word"), s))


def _outside_code(line: str, change: Callable[[str], str]) -> str:
    """`change` applied to the parts of a line outside `inline code`."""
    parts = re.split(r"(`[^`]+`(?!_)(?:\([^)]*\))?)", line)
    return "".join(p if i % 2 else change(p) for i, p in enumerate(parts))


# Markdown


def clean_markdown(text: str) -> str:
    """Markdown as clean Markdown (see the module's docstring); fenced code is untouched."""
    lines = _HTML_COMMENT.sub("", text).splitlines()
    out: list[str] = []
    index = 0
    fence: str | None = None
    while index < len(lines):
        line = lines[index]
        opened = _FENCE.match(line)
        if fence is not None or opened:
            if opened and fence is None:
                fence = opened.group(1)
            elif opened and opened.group(1)[0] == fence[0] and line.strip().strip(fence[0]) == "":  # type: ignore[index]
                fence = None
            out.append(line)
            index += 1
            continue
        admonition = _MD_ADMONITION.match(line)
        block = _MD_BLOCK.match(line)
        alert = _MD_ALERT.match(line)
        if admonition:
            indent = len(admonition.group("indent"))
            end = _indented_block(lines, index + 1, indent)
            label = _md_label(admonition.group("kind"))
            title = admonition.group("title")
            body = clean_markdown(textwrap.dedent("\n".join(lines[index + 1 : end]))).splitlines()
            first = [title] if title and title.lower() != label.lower() else []
            out.extend(_labelled(label, [*first, *body], " " * indent))
            index = end
            continue
        if block:
            close = re.compile(rf"^{block.group('fence')}[ \t]*$")
            closing = next((n for n in range(index + 1, len(lines)) if close.match(lines[n])), None)
            if closing is not None:
                label = _md_label(block.group("kind"))
                title = (block.group("title") or "").strip()
                body = clean_markdown("\n".join(lines[index + 1 : closing])).splitlines()
                first = [title] if title and title.lower() != label.lower() else []
                out.extend(_labelled(label, [*first, *body], ""))
                index = closing + 1
                continue
        if alert:
            end = index + 1
            while end < len(lines) and lines[end].startswith(">"):
                end += 1
            quoted = [re.sub(r"^>[ \t]?", "", q) for q in lines[index + 1 : end]]
            body = clean_markdown("\n".join(quoted)).splitlines()
            out.extend(_labelled(_md_label(alert.group("kind")), body, ""))
            index = end
            continue
        if _md_setext(lines, index):
            if out and out[-1].strip():
                out.append("")
            index += 1
            continue
        if _MD_ATX.match(line):
            line = _MD_ATTRIBUTES.sub("", line)
        out.append(_outside_code(line, lambda s: _INLINE_TAG.sub("", s)))
        index += 1
    return _tidy(out)


def _md_label(kind: str) -> str:
    return _ADMONITIONS.get(kind.lower(), kind.replace("-", " ").capitalize())


def _md_setext(lines: list[str], index: int) -> bool:
    """Whether line `index` underlines a one-line paragraph (a setext heading)."""
    if index == 0 or not _MD_SETEXT.match(lines[index]):
        return False
    title = lines[index - 1]
    if not title.strip() or _NOT_A_TITLE.match(title) or _MD_ATX.match(title):
        return False
    return index < 2 or not lines[index - 2].strip()
