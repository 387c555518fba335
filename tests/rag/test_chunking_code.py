"""Source files are chunked along their syntax, with qualified names as titles."""

from __future__ import annotations

from textwrap import dedent

import pytest

from core.types import Chunk, ChunkKind
from rag.chunking import chunk_file, chunk_id, language_for
from rag.chunking.code import chunk_code
from rag.chunking.lines import split_lines


def _titled(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.title: c for c in chunks}


def _exact(chunk: Chunk, text: str) -> bool:
    lines = split_lines(text)
    return chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])


PYTHON = dedent(
    '''\
    """Helpers for parsing."""

    import os

    DEFAULT_LIMIT = int(os.environ.get("LIMIT", "10"))


    # Retries a flaky call.
    @retry(times=3)
    def fetch(url: str) -> bytes:
        """Downloads the url."""
        return b""


    class Parser(Base):
        """Parses tokens."""

        strict = True

        def __init__(self) -> None:
            self.tokens = []

        @property
        def size(self) -> int:
            return len(self.tokens)

        class Options:
            """Parser options."""

            def merge(self, other):
                return other


    if __name__ == "__main__":
        fetch("https://example.org")
    '''
)


def test_python_function_includes_its_comment_decorator_and_docstring() -> None:
    """A function's chunk starts at the comment above it and holds decorator and docstring."""
    chunks = _titled(chunk_code(kb="kb", path="pkg/parse.py", text=PYTHON, language="python"))
    fetch = chunks["fetch"]
    assert fetch.text.startswith("# Retries a flaky call.\n@retry(times=3)\ndef fetch")
    assert '"""Downloads the url."""' in fetch.text
    assert (fetch.start_line, fetch.end_line) == (8, 12)
    assert fetch.kind is ChunkKind.CODE
    assert fetch.language == "python"
    assert _exact(fetch, PYTHON)


def test_python_class_gives_a_header_chunk_and_qualified_methods() -> None:
    """A class yields its header (docstring, fields) and `Class.method` chunks, nested too."""
    chunks = _titled(chunk_code(kb="kb", path="pkg/parse.py", text=PYTHON, language="python"))
    header = 'class Parser(Base):\n    """Parses tokens."""\n\n    strict = True'
    assert chunks["Parser"].text == header
    assert "Parser.__init__" in chunks
    assert chunks["Parser.size"].text.lstrip().startswith("@property")
    assert '"""Parser options."""' in chunks["Parser.Options"].text
    assert "return other" in chunks["Parser.Options.merge"].text
    assert all(_exact(c, PYTHON) for c in chunks.values())


def test_module_level_code_is_kept_in_module_chunks() -> None:
    """Imports, constants and the `__main__` block are chunked as "<path> (module)"."""
    chunks = chunk_code(kb="kb", path="pkg/parse.py", text=PYTHON, language="python")
    module = [c for c in chunks if c.title == "pkg/parse.py (module)"]
    assert [c.start_line for c in module] == [1, 34]
    assert "DEFAULT_LIMIT" in module[0].text
    assert module[1].text.startswith('if __name__ == "__main__":')


def test_a_long_function_is_split_into_numbered_parts() -> None:
    """A definition over the line limit becomes consecutive windows titled "(part N)"."""
    body = "\n".join(f"    total += step({n})" for n in range(300))
    text = f"def accumulate():\n    total = 0\n{body}\n    return total\n"
    chunks = chunk_code(kb="kb", path="a.py", text=text, language="python")
    assert [c.title for c in chunks] == ["accumulate", "accumulate (part 2)", "accumulate (part 3)"]
    assert all(c.end_line - c.start_line < 120 for c in chunks)
    assert [c.start_line for c in chunks[1:]] == [c.end_line + 1 for c in chunks[:-1]]
    assert chunks[-1].end_line == len(split_lines(text))


def test_javascript_arrow_function_constants_and_class_methods() -> None:
    """`const f = () => {}` is a function chunk with its JSDoc; class methods are qualified."""
    text = dedent(
        """\
        import { api } from "./api";

        /** Loads the user. */
        export const loadUser = async (id) => {
          return api.get(`/users/${id}`);
        };

        class Store {
          items = [];
          add(item) {
            this.items.push(item);
          }
        }
        """
    )
    chunks = _titled(chunk_file(kb="kb", path="src/store.js", text=text))
    assert chunks["loadUser"].text.startswith("/** Loads the user. */\nexport const loadUser")
    assert chunks["Store.add"].start_line == 10
    assert "items = [];" in chunks["Store"].text
    assert {c.language for c in chunks.values()} == {"javascript"}


def test_typescript_interfaces_types_and_enums_are_chunks() -> None:
    """TS interfaces, type aliases and enums each get a chunk titled with their name."""
    text = dedent(
        """\
        // Shape of a user.
        export interface User {
          id: number;
          name: string;
        }

        type Id = string | number;

        enum Role { Admin, Guest }
        """
    )
    chunks = _titled(chunk_file(kb="kb", path="src/types.ts", text=text))
    assert set(chunks) == {"User", "Id", "Role"}
    assert chunks["User"].text.startswith("// Shape of a user.")
    assert (chunks["User"].start_line, chunks["User"].end_line) == (1, 5)


def test_java_class_with_javadoc_annotations_and_methods() -> None:
    """A Java class gives a header chunk and `Class.method` chunks with their annotations."""
    text = dedent(
        """\
        package app;

        /** A greeter. */
        public class Greeter {
            private final String name;

            public Greeter(String name) { this.name = name; }

            /** Says hello. */
            @Override
            public String toString() {
                return "Hello " + name;
            }
        }
        """
    )
    chunks = _titled(chunk_file(kb="kb", path="src/Greeter.java", text=text))
    assert chunks["Greeter"].text.startswith("/** A greeter. */\npublic class Greeter {")
    assert "private final String name;" in chunks["Greeter"].text
    assert "Greeter.Greeter" in chunks
    method = chunks["Greeter.toString"]
    assert method.text.startswith("    /** Says hello. */\n    @Override")
    assert (method.start_line, method.end_line) == (9, 13)


def test_go_methods_are_named_by_their_receiver_type() -> None:
    """A Go method is titled `Type.Method`; types and functions carry their doc comments."""
    text = dedent(
        """\
        package server

        // Server serves requests.
        type Server struct {
            addr string
        }

        // Start listens on the address.
        func (s *Server) Start() error {
            return nil
        }

        func New(addr string) *Server {
            return &Server{addr: addr}
        }
        """
    )
    chunks = _titled(chunk_file(kb="kb", path="server/server.go", text=text))
    assert set(chunks) == {"Server", "Server.Start", "New"}
    assert chunks["Server.Start"].text.startswith("// Start listens on the address.")
    assert chunks["Server"].start_line == 3


def test_unparseable_or_unparsed_languages_fall_back_to_line_windows() -> None:
    """Known languages without a grammar here are windowed by lines, titled with the path."""
    text = "\n".join(f"key_{n} = {n}" for n in range(150))
    chunks = chunk_file(kb="kb", path="config/settings.toml", text=text)
    assert len(chunks) == 3
    assert {c.title for c in chunks} == {"config/settings.toml"}
    assert {c.language for c in chunks} == {"toml"}
    assert all(_exact(c, text) for c in chunks)
    assert chunks[-1].end_line == 150
    assert chunk_file(kb="kb", path="image.png", text="binary") == []


def test_a_file_the_parser_rejects_is_still_chunked() -> None:
    """Source that yields no definitions and has syntax errors is windowed, not dropped."""
    text = "this is ( not python at all {\n" * 5
    chunks = chunk_file(kb="kb", path="broken.py", text=text)
    assert [c.title for c in chunks] == ["broken.py"]


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("docs/index.md", "markdown"),
        ("docs/page.mdx", "markdown"),
        ("docs/index.rst", "rst"),
        ("README", "text"),
        ("LICENSE-MIT", "text"),
        ("pkg/stubs.pyi", "python"),
        ("web/app.tsx", "tsx"),
        ("web/lib.mjs", "javascript"),
        ("Makefile", "makefile"),
        (".github/workflows/ci.yml", "yaml"),
        ("setup.cfg", "ini"),
        ("logo.svg", None),
    ],
)
def test_language_is_chosen_by_extension_or_name(path: str, language: str | None) -> None:
    """Files map to a language by extension, or by conventional name when they have none."""
    assert language_for(path) == language


def test_chunk_ids_are_content_hashes() -> None:
    """An id is 32 hex digits that change with any of kb, path, title or text."""
    base = chunk_id("kb", "a.py", "f", "def f(): pass")
    assert len(base) == 32
    assert base == chunk_id("kb", "a.py", "f", "def f(): pass")
    assert base != chunk_id("kb", "a.py", "f", "def f(): return")
    assert base != chunk_id("kb2", "a.py", "f", "def f(): pass")


def test_a_jsdoc_block_one_blank_line_above_still_belongs_to_the_function() -> None:
    """A `/** ... */` block separated by one blank line is the function's doc, not lost."""
    doc = "/**\n * Parse a charset.\n * @private\n */\n"
    text = f"{doc}\nfunction parseCharset(str) {{\n  return str;\n}}\n"
    (chunk,) = chunk_file(kb="kb", path="lib/charset.js", text=text)
    assert chunk.title == "parseCharset"
    assert (chunk.start_line, chunk.end_line) == (1, 8)


def test_small_import_runs_are_skipped_unless_the_file_only_re_exports() -> None:
    """A lone import line is noise beside definitions, but a re-export module is kept whole."""
    reexport = "from starlette.middleware.cors import CORSMiddleware as CORSMiddleware\n"
    (chunk,) = chunk_file(kb="kb", path="fastapi/middleware/cors.py", text=reexport)
    assert chunk.title == "fastapi/middleware/cors.py (module)"
    with_function = "import os\n\n\ndef cwd() -> str:\n    return os.getcwd()\n"
    assert [c.title for c in chunk_file(kb="kb", path="a.py", text=with_function)] == ["cwd"]


def test_go_package_documentation_is_kept_in_the_module_chunk() -> None:
    """A package doc comment above `package x` survives though the rest is imports."""
    text = (
        "// Package server implements the HTTP front end of the service and its health checks.\n"
        'package server\n\nimport "net/http"\n\nfunc Handler() http.Handler { return nil }\n'
    )
    titles = [c.title for c in chunk_file(kb="kb", path="server/doc.go", text=text)]
    assert titles == ["server/doc.go (module)", "Handler"]
