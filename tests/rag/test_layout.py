"""A repository read as its maintainers laid it out: translations, includes and file roles."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.types import Chunk, ChunkKind, FileRole
from rag.chunking.ids import chunk_id
from rag.intent import Intent, question_intent, role_weight
from rag.layout import read_layout
from rag.layout.includes import (
    expand_chunk,
    expand_chunks,
    find_includes,
    included_text,
    is_alias,
)
from rag.layout.languages import detect, language_code
from rag.layout.mirrors import find_mirrors
from rag.layout.roles import classify

EN = (
    "This page shows how to declare query parameters. When you declare other function "
    "parameters that are not part of the path, they are interpreted as query parameters, "
    "and the values are converted to the types you declare in the function."
)
DE = (
    "Diese Seite zeigt, wie man Query-Parameter deklariert. Wenn Sie andere Parameter der "
    "Funktion deklarieren, die nicht Teil des Pfades sind, werden sie als Query-Parameter "
    "interpretiert, und die Werte werden auch in die Typen umgewandelt, die Sie in der "
    "Funktion deklarieren. Das ist nicht schwer und die Dokumentation ist auf dem Stand."
)
ES = (
    "Esta página muestra cómo declarar parámetros de query. Cuando declaras otros "
    "parámetros de la función que no son parte del path, se interpretan como parámetros "
    "de query, y los valores se convierten a los tipos que declaras en la función, como "
    "en el ejemplo de la documentación para el usuario."
)
JA = (
    "このページでは、クエリパラメータを宣言する方法を説明します。"
    "パスの一部ではない関数パラメータを宣言すると、クエリパラメータとして解釈されます。"
)


@dataclass(frozen=True)
class File:
    path: str
    text: str
    sha256: str = "0" * 64


def texts(files: dict[str, str]) -> list[File]:
    return [File(path, text) for path, text in files.items()]


def test_language_of_prose_not_of_its_code() -> None:
    """Prose decides the language; code, URLs and inline code around it do not."""
    code = "\n```python\nfrom fastapi import FastAPI\napp = FastAPI()\n```\n"
    assert detect(EN + code) == "en"
    assert detect(DE + code * 5) == "de"
    assert detect(ES + code) == "es"
    assert detect(JA + code) == "ja"
    assert detect("def f(x):\n    return x\n") == ""
    assert [language_code(n) for n in ("de", "pt-BR", "zh-hant", "docs", "src", "DE")] == [
        "de",
        "pt",
        "zh",
        None,
        None,
        None,
    ]


PAGES = ["index.md", "tutorial/query.md", "tutorial/body.md", "advanced/events.md"]


def fastapi_like() -> dict[str, str]:
    files = {"README.md": EN, "pkg/app.py": "def app():\n    pass\n"}
    files |= {f"docs/en/docs/{p}": EN for p in PAGES}
    files |= {f"docs/de/docs/{p}": DE for p in PAGES[:3]}
    files |= {f"docs/es/docs/{p}": ES for p in PAGES[:2]}
    files |= {"docs/ja/docs/index.md": JA, "docs/en/mkdocs.yml": "site_name: x\n"}
    return files


def test_mirrored_language_folders_are_translations_of_the_main_one() -> None:
    """docs/<lang>/ trees mirroring docs/en/ are translations; English stays the main one."""
    files = fastapi_like()
    mirrors = find_mirrors(list(files), files.__getitem__)
    assert mirrors.main_language == "en"
    assert set(mirrors.trees) == {"docs/de/", "docs/es/", "docs/ja/"}
    assert mirrors.translations["docs/de/docs/tutorial/query.md"] == "de"
    assert not any(p.startswith("docs/en/") for p in mirrors.translations)
    assert mirrors.originals["docs/es/docs/tutorial/query.md"] == "docs/en/docs/tutorial/query.md"
    assert set(mirrors.left_out(["de"]).values()) == {"es", "ja"}
    assert mirrors.left_out(["all"]) == {}


def test_sphinx_locale_tree_is_a_translation() -> None:
    """Message catalogues under locale/<lang>/LC_MESSAGES translate the .rst pages."""
    po = "\n".join(f'msgid "{EN[:40]}"\nmsgstr "{DE}"\n' for _ in range(2))
    files = {
        "docs/index.rst": EN,
        "docs/usage.rst": EN,
        "docs/locale/de/LC_MESSAGES/index.po": po,
        "docs/locale/de/LC_MESSAGES/usage.po": po,
    }
    mirrors = find_mirrors(list(files), files.__getitem__)
    assert mirrors.main_language == "en"
    assert mirrors.trees == {"docs/locale/de/": "de"}
    assert mirrors.originals["docs/locale/de/LC_MESSAGES/usage.po"] == "docs/usage.rst"


def test_language_suffixed_files_beside_the_original_are_translations() -> None:
    """README.de.md beside README.md is German; README.md is the original."""
    files = {"README.md": EN, "README.de.md": DE, "docs/guide.md": EN}
    mirrors = find_mirrors(list(files), files.__getitem__)
    assert mirrors.translations == {"README.de.md": "de"}
    assert mirrors.originals == {"README.de.md": "README.md"}


def test_a_folder_named_like_a_language_in_the_main_language_is_kept() -> None:
    """docs/es/ about a search backend, written in English, is no translation."""
    files = {
        "README.md": EN,
        "docs/index.md": EN,
        "docs/setup.md": EN,
        "docs/es/index.md": EN.replace("query parameters", "Elasticsearch indices"),
        "docs/es/setup.md": EN.replace("path", "cluster"),
    }
    layout = read_layout(texts(files))
    assert layout.left_out == {}
    assert layout.roles["docs/es/setup.md"] is FileRole.DOCS


def test_layout_leaves_out_translations_unless_asked() -> None:
    """By default only the main language is kept; languages adds one, as role translation."""
    files = fastapi_like()
    layout = read_layout(texts(files))
    assert layout.left_out["docs/de/docs/index.md"] == "translation (de)"
    assert len(layout.left_out) == 6
    with_de = read_layout(texts(files), languages=["DE"])
    assert "docs/de/docs/index.md" not in with_de.left_out
    assert with_de.roles["docs/de/docs/index.md"] is FileRole.TRANSLATION
    assert with_de.translated_from["docs/de/docs/index.md"] == "docs/en/docs/index.md"


KNOWN = {
    "docs_src/query/tutorial001.py",
    "docs/en/docs/tutorial/query.md",
    "docs/snippets/note.md",
    "examples/app.py",
    "docs/source/usage.rst",
    "docs/source/intro.rst",
}


@pytest.mark.parametrize(
    ("page", "line", "target", "lines"),
    [
        (
            "docs/en/docs/tutorial/query.md",
            "{* ../../docs_src/query/tutorial001.py ln[2:3] hl[3] *}",
            "docs_src/query/tutorial001.py",
            ((2, 3),),
        ),
        (
            "docs/en/docs/tutorial/query.md",
            "{!> ../../docs_src/query/tutorial001.py!}",
            "docs_src/query/tutorial001.py",
            (),
        ),
        (
            "docs/en/docs/tutorial/query.md",
            '--8<-- "docs/snippets/note.md"',
            "docs/snippets/note.md",
            (),
        ),
        ("docs/source/usage.rst", '--8<-- "examples/app.py:2:3"', "examples/app.py", ((2, 3),)),
        (
            "docs/source/usage.rst",
            ".. literalinclude:: ../../examples/app.py",
            "examples/app.py",
            (),
        ),
        ("docs/source/usage.rst", ".. include:: intro.rst", "docs/source/intro.rst", ()),
        ("docs/source/usage.rst", "```{literalinclude} /examples/app.py", "examples/app.py", ()),
    ],
)
def test_include_syntaxes_resolve_to_repository_files(
    page: str, line: str, target: str, lines: tuple[tuple[int, int | None], ...]
) -> None:
    """Each include syntax names its file, resolved from the page's folder or one above."""
    found = find_includes(page, f"# Title\n\nSome text.\n\n{line}\n\nMore text.\n", KNOWN)
    assert [(i.line, i.target, i.lines) for i in found] == [(5, target, lines)]


def test_include_options_and_blocks() -> None:
    """Sphinx :lines: and :start-after:, snippet blocks, and unknown targets left alone."""
    page = "docs/source/usage.rst"
    text = (
        ".. literalinclude:: ../../examples/app.py\n   :lines: 2-3\n\n"
        "--8<--\nexamples/app.py\ndocs/snippets/note.md\n--8<--\n\n"
        ".. include:: missing.rst\n{* ../../nowhere.py *}\n"
    )
    found = find_includes(page, text, KNOWN)
    assert [(i.line, i.target, i.lines) for i in found] == [
        (1, "examples/app.py", ((2, 3),)),
        (5, "examples/app.py", ()),
        (6, "docs/snippets/note.md", ()),
    ]
    code = "import a\ndef main():\n    return 1\n# end\n"
    assert included_text(found[0], code) == "def main():\n    return 1"
    marked = find_includes(
        page,
        ".. literalinclude:: ../../examples/app.py\n"
        "   :start-after: import a\n   :end-before: # end\n",
        KNOWN,
    )
    assert included_text(marked[0], code) == "def main():\n    return 1"


def test_included_code_joins_the_passage_where_the_directive_was() -> None:
    """The passage quotes the example's code and takes a new id; others stay as they were."""
    page = "docs/en/docs/tutorial/query.md"
    directive = "{* ../../docs_src/query/tutorial001.py *}"
    text = f"Declare the parameter:\n\n{directive}\n\nThen run it."
    chunk = Chunk(
        chunk_id("kb", page, "Query", text),
        "kb",
        page,
        "Query",
        text,
        10,
        14,
        "markdown",
        ChunkKind.DOC,
    )
    includes = find_includes(page, "\n" * 11 + directive, KNOWN)
    code = {"docs_src/query/tutorial001.py": "def read(q: str):\n    return q\n"}
    expanded = expand_chunk(chunk, includes, code)
    assert "```python\ndef read(q: str):\n    return q\n```" in expanded.text
    assert directive not in expanded.text and expanded.text.endswith("Then run it.")
    assert expanded.id == chunk_id("kb", page, "Query", expanded.text) != chunk.id
    outside = Chunk("x", "kb", page, "Q", "other", 1, 5, "markdown", ChunkKind.DOC)
    assert expand_chunk(outside, includes, code) is outside


def test_an_example_shown_again_brings_only_its_highlighted_lines() -> None:
    """The first showing brings the whole example; later ones the lines they highlight
    (hl[...] counts the file's lines, Sphinx :emphasize-lines: the selected ones)."""
    code = "import a\n\ndef check(token):\n    return token\n\n\ndef route():\n    check(1)\n"
    first, again = (
        "{* ../../docs_src/query/tutorial001.py hl[3] *}",
        "{* ../../docs_src/query/tutorial001.py hl[7:8] *}",
    )
    page = "docs/en/docs/tutorial/query.md"
    text = f"Declare it:\n\n{first}\n\nUse it:\n\n{again}\n"
    includes = find_includes(page, text, KNOWN)
    assert [i.highlight for i in includes] == [((3, 3),), ((7, 8),)]
    chunks = [
        Chunk(
            chunk_id("kb", page, t, body),
            "kb",
            page,
            t,
            body,
            start,
            end,
            "markdown",
            ChunkKind.DOC,
        )
        for t, body, start, end in (
            ("Use", f"Use it:\n\n{again}", 5, 7),
            ("Declare", f"Declare it:\n\n{first}", 1, 3),
        )
    ]
    used, declared = expand_chunks(chunks, includes, {"docs_src/query/tutorial001.py": code})
    assert "import a" in declared.text and "def route():" in declared.text
    assert "```python\ndef route():\n    check(1)\n```" in used.text and "import a" not in used.text
    # On its own (no page seen so far) a chunk brings the whole selection.
    assert (
        "import a"
        in expand_chunk(chunks[0], includes, {"docs_src/query/tutorial001.py": code}).text
    )
    sphinx = find_includes(
        "docs/source/usage.rst",
        ".. literalinclude:: ../../examples/app.py\n   :lines: 3-8\n   :emphasize-lines: 1,5-\n",
        KNOWN,
    )[0]
    assert (
        included_text(sphinx, code, highlighted_only=True)
        == "def check(token):\ndef route():\n    check(1)"
    )


def test_a_page_that_only_includes_a_file_is_that_file_under_another_name() -> None:
    """A Sphinx wrapper page (a heading and an include) folds into the file it includes,
    which keeps its own slot and lends the wrapper its role; a page with prose of its own
    around the include stays the host of the file it quotes."""
    files = [
        File("CHANGES.rst", "Version 2.0\n-----------\n\n- Added a thing.\n"),
        File("CONTRIBUTING.rst", "How to contribute\n=================\n\nRun the tests.\n"),
        File("docs/changes.rst", "Changes\n=======\n\n.. include:: ../CHANGES.rst\n"),
        File("docs/contributing.rst", ".. _contributing:\n\n.. include:: ../CONTRIBUTING.rst\n"),
        File(
            "docs/usage.rst",
            "Usage\n=====\n\nRead this first.\n\n.. include:: ../CONTRIBUTING.rst\n",
        ),
        File(
            "docs/part.rst",
            "Part\n====\n\n.. include:: ../CHANGES.rst\n   :start-line: 2\n   :end-before: x\n",
        ),
    ]
    layout = read_layout(files)
    assert layout.included_by["docs/changes.rst"] == ["CHANGES.rst"]
    assert layout.included_by["docs/contributing.rst"] == ["CONTRIBUTING.rst"]
    assert layout.included_by["CONTRIBUTING.rst"] == ["docs/usage.rst"]
    assert layout.included_by["CHANGES.rst"] == ["docs/part.rst"]
    assert layout.roles["docs/changes.rst"] is FileRole.CHANGELOG
    assert layout.roles["CHANGES.rst"] is FileRole.CHANGELOG
    md = "# Changes\n\n<!-- kept in one place -->\n{! ../CHANGES.md !}\n"
    found = find_includes("docs/changes.md", md, {"CHANGES.md"})
    assert is_alias("docs/changes.md", md, found, lambda _: "")
    assert not is_alias("docs/changes.md", "# Changes\n", [], lambda _: "")


def test_a_few_sentences_around_a_much_longer_document_are_a_wrapper_too() -> None:
    """Two sentences of a "Community Updates" page around the whole release history: the
    history keeps its own slot. The same sentences around a short document stay its host."""
    history = "".join(
        f"Version 1.{n}\n-----------\n\n- Fixed a thing in part {n}.\n\n" for n in range(60)
    )
    page = (
        "Community Updates\n=================\n\nTo stay up to date, watch the repository.\n\n"
        "GitHub\n------\n\nThe best way to track development is the issue tracker.\n\n"
        ".. include:: ../../HISTORY.rst\n"
    )
    files = [File("HISTORY.rst", history), File("docs/community/updates.rst", page)]
    layout = read_layout(files)
    assert layout.included_by["docs/community/updates.rst"] == ["HISTORY.rst"]
    assert layout.roles["docs/community/updates.rst"] is FileRole.CHANGELOG
    short = read_layout([File("HISTORY.rst", "Version 1.0\n-----------\n\n- First.\n"), files[1]])
    assert short.included_by["HISTORY.rst"] == ["docs/community/updates.rst"]


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("README.md", FileRole.DOCS),
        ("docs/tutorial/testing.md", FileRole.DOCS),
        ("docs/history-design-future.md", FileRole.DOCS),
        ("src/pkg/routing.py", FileRole.SOURCE),
        ("tests/test_routing.py", FileRole.TEST),
        ("pkg/server_test.go", FileRole.TEST),
        ("web/app.spec.ts", FileRole.TEST),
        ("benchmarks/bench_parse.py", FileRole.TEST),
        ("tests/fixtures/readme.md", FileRole.TEST),
        ("CHANGELOG.md", FileRole.CHANGELOG),
        ("docs/release-notes.md", FileRole.CHANGELOG),
        ("HISTORY.rst", FileRole.CHANGELOG),
        ("Makefile", FileRole.BUILD),
        ("pyproject.toml", FileRole.BUILD),
        ("tox.ini", FileRole.BUILD),
        ("noxfile.py", FileRole.BUILD),
        (".github/workflows/test.yml", FileRole.BUILD),
        ("scripts/release.py", FileRole.BUILD),
        ("requirements-dev.txt", FileRole.BUILD),
        ("AGENTS.md", FileRole.TOOLING),
        ("pkg/.agents/skills/x/SKILL.md", FileRole.TOOLING),
        (".github/copilot-instructions.md", FileRole.TOOLING),
        ("docs/de/llm-prompt.md", FileRole.TOOLING),
        ("examples/server.py", FileRole.EXAMPLE),
        ("docs_src/body/tutorial001.py", FileRole.EXAMPLE),
        ("docs/agents.md", FileRole.DOCS),
    ],
)
def test_roles_from_path_conventions(path: str, role: FileRole) -> None:
    assert classify(path, "text") is role


def test_roles_from_content() -> None:
    """Version headings make a changelog; a skill's front matter makes a tooling file;
    code a page includes is an example, even a test module, but the project's own source
    that pages only excerpt stays source."""
    versions = "\n".join(f"## {n}.0.0\n\n* Fixed a bug.\n" for n in range(1, 7))
    assert classify("docs/updates.md", versions) is FileRole.CHANGELOG
    skill = "---\nname: web-api\ndescription: Use when writing web APIs.\n---\n\n# Web API\n"
    assert classify("guides/web.md", skill) is FileRole.TOOLING
    assert classify("app/test_main.py", "", included=True) is FileRole.EXAMPLE
    assert classify("docs_src/app/main.py", "", included=True) is FileRole.EXAMPLE
    assert classify("pkg/openapi/docs.py", "", included=True, excerpted=True) is FileRole.SOURCE
    assert classify("pkg/openapi/docs.py", "", included=True) is FileRole.EXAMPLE


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("How do I run the tests?", Intent.ONBOARDING),
        ("How can I contribute a fix?", Intent.ONBOARDING),
        ("How do I redirect to another URL?", Intent.HOWTO),
        ("What does the retry option do?", Intent.LOOKUP),
        ("Where is the session created?", Intent.LOOKUP),
        ("Which tests cover the parser?", Intent.TESTS),
        ("What changed in 2.1.0?", Intent.CHANGES),
        ("Uploads fail with a timeout", Intent.GENERAL),
        ("What does this project do?", Intent.OVERVIEW),
        ("What is this library for?", Intent.OVERVIEW),
        ("What does this function do?", Intent.LOOKUP),
    ],
)
def test_question_intent(question: str, intent: Intent) -> None:
    assert question_intent(question) is intent


def test_role_weights_follow_the_intent() -> None:
    """How-to favours docs and examples over source; onboarding favours README and build
    files; tests weigh least unless asked about; translations only for other languages."""
    howto = role_weight(Intent.HOWTO, secondary=0.5)
    assert howto(FileRole.DOCS, "d.md") == howto(FileRole.EXAMPLE, "e.py") == 1.0
    assert howto(FileRole.TEST, "t.py") < howto(FileRole.SOURCE, "s.py") < 1.0
    onboarding = role_weight(Intent.ONBOARDING, secondary=0.5)
    assert onboarding(FileRole.BUILD, "Makefile") == onboarding(FileRole.DOCS, "README.md") == 1.0
    assert onboarding(FileRole.TEST, "tests/x.py") < onboarding(FileRole.DOCS, "docs/api.md") < 1
    # Below every other role: a test file is the last place to learn how to use a project.
    assert (
        onboarding(FileRole.TEST, "tests/x.py") == 0.25 < onboarding(FileRole.TOOLING, "AGENTS.md")
    )
    assert howto(FileRole.TEST, "t.py") < howto(FileRole.CHANGELOG, "CHANGES.md")
    tests = role_weight(Intent.TESTS, secondary=0.5)
    assert tests(FileRole.TEST, "tests/test_x.py") == 1.0
    assert howto(FileRole.UNKNOWN, "tests/test_x.py") == howto(FileRole.TEST, "t.py")
    assert howto(FileRole.TRANSLATION, "docs/de/x.md") == 0.5
    other = role_weight(Intent.HOWTO, secondary=0.5, translations_first=True)
    assert other(FileRole.TRANSLATION, "docs/de/x.md") == 1.0 > other(FileRole.DOCS, "x.md")


def test_api_reference_pages_give_way_to_guides_for_how_to_questions() -> None:
    """A page under a reference folder counts less than a guide for a how-to question."""
    howto = role_weight(Intent.HOWTO, secondary=0.5)
    assert howto(FileRole.DOCS, "docs/reference/websockets.md") == 0.75
    assert howto(FileRole.DOCS, "docs/advanced/websockets.md") == 1.0
    lookup = role_weight(Intent.LOOKUP, secondary=0.5)
    assert lookup(FileRole.DOCS, "docs/api/client.md") == 1.0


EXAMPLE = (
    "from typing import Annotated\n\nfrom app import App, Depends\n\napp = App()\n\n\n"
    "class Checker:\n    def __init__(self, fixed_content: str):\n"
    "        self.fixed_content = fixed_content\n\n"
    "    def __call__(self, q: str = ''):\n        return self.fixed_content in q\n\n\n"
    "checker = Checker('bar')\n\n\n@app.get('/query-checker/')\n"
    "async def read_query_check(fixed_content_included: Annotated[bool, Depends(checker)]):\n"
    "    return {'fixed_content_in_query': fixed_content_included}\n"
)


def test_an_example_variant_belongs_to_the_page_that_includes_its_sibling() -> None:
    """Of two near-identical versions of an example the page includes one; the other is
    folded into the same page, and becomes an example. A different example beside them, or
    a near copy in another folder, is left alone."""
    variant = EXAMPLE.replace("Annotated[bool, Depends(checker)]", "bool = Depends(checker)")
    other = "from app import App\n\napp = App()\n\n\n@app.get('/')\ndef root():\n    return 1\n"
    files = {
        "docs/advanced.md": "# Advanced\n\n{* ../code/deps/tutorial011_an.py *}\n",
        "code/deps/tutorial011_an.py": EXAMPLE,
        "code/deps/tutorial011.py": variant,
        "code/deps/tutorial001.py": other,
        "lib/checker.py": variant,
    }
    layout = read_layout(texts(files))
    assert layout.included_by["code/deps/tutorial011.py"] == ["docs/advanced.md"]
    assert layout.roles["code/deps/tutorial011.py"] is FileRole.EXAMPLE
    assert "code/deps/tutorial001.py" not in layout.included_by
    assert layout.roles["code/deps/tutorial001.py"] is FileRole.SOURCE
    assert "lib/checker.py" not in layout.included_by
    # The page's passages quote only the file it includes.
    quoted = [i.target for i in layout.includes["docs/advanced.md"]]
    assert quoted == ["code/deps/tutorial011_an.py"]


def test_how_to_after_a_title() -> None:
    """An issue's title, then its question: the question's phrasing decides."""
    assert question_intent("Nested lists: what is the best way to parse them?") is Intent.HOWTO
    assert question_intent("Uploads: they fail with a timeout") is Intent.GENERAL


def test_source_that_a_page_only_excerpts_stays_source() -> None:
    """A how-to that shows lines 9-24 of the library's module quotes its defaults; the
    module is still source. An example the page shows whole is an example, wherever it is."""
    files = {
        "docs/how-to/ui.md": (
            "# UI\n\n{* ../../pkg/ui.py ln[9:24] *}\n\n{* ../../code/ui_app.py *}\n"
        ),
        "pkg/ui.py": "def html(title):\n    return title\n" * 12,
        "code/ui_app.py": "from pkg.ui import html\n\nprint(html('x'))\n",
    }
    layout = read_layout(texts(files))
    assert layout.included_by["pkg/ui.py"] == ["docs/how-to/ui.md"]
    assert layout.roles["pkg/ui.py"] is FileRole.SOURCE
    assert layout.roles["code/ui_app.py"] is FileRole.EXAMPLE
