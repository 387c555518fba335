"""Find the definitions in a source file with tree-sitter, with their qualified names."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tree_sitter import Node, Parser
from tree_sitter_language_pack import get_parser

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Definition:
    """A function, method, class or type: rows [start, end), 0-based.

    `start` includes decorators and the comment block directly above. A container (class,
    Java interface, TS namespace) lists the definitions in its body as `members`.
    """

    name: str
    start: int
    end: int
    container: bool = False
    members: tuple[Definition, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """The top-level definitions of a file and the rows that hold only comments."""

    definitions: tuple[Definition, ...]
    comment_rows: frozenset[int]


@dataclass(frozen=True, slots=True)
class _Grammar:
    """Node types of one tree-sitter grammar, by the role they play in chunking."""

    callables: frozenset[str]
    containers: frozenset[str]
    types: frozenset[str]
    wrappers: frozenset[str] = frozenset()
    variables: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    bodies: frozenset[str] = frozenset()


_JS = _Grammar(
    callables=frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "method_definition",
            "field_definition",
            "public_field_definition",
        }
    ),
    containers=frozenset({"class_declaration", "abstract_class_declaration"}),
    types=frozenset(),
    wrappers=frozenset({"export_statement", "expression_statement", "ambient_declaration"}),
    variables=frozenset({"lexical_declaration", "variable_declaration"}),
    functions=frozenset(
        {"arrow_function", "function_expression", "function", "generator_function"}
    ),
)
_TS = _Grammar(
    callables=_JS.callables,
    containers=_JS.containers | {"internal_module", "module"},
    types=frozenset({"interface_declaration", "type_alias_declaration", "enum_declaration"}),
    wrappers=_JS.wrappers,
    variables=_JS.variables,
    functions=_JS.functions,
)
_GRAMMARS: dict[str, _Grammar] = {
    "python": _Grammar(
        callables=frozenset({"function_definition"}),
        containers=frozenset({"class_definition"}),
        types=frozenset(),
        wrappers=frozenset({"decorated_definition"}),
    ),
    "javascript": _JS,
    "typescript": _TS,
    "tsx": _TS,
    "java": _Grammar(
        callables=frozenset(
            {"method_declaration", "constructor_declaration", "compact_constructor_declaration"}
        ),
        containers=frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
                "annotation_type_declaration",
            }
        ),
        types=frozenset(),
        bodies=frozenset({"enum_body_declarations"}),
    ),
    "go": _Grammar(
        callables=frozenset({"function_declaration", "method_declaration"}),
        containers=frozenset(),
        types=frozenset({"type_declaration"}),
    ),
}


def supported(language: str) -> bool:
    """Whether `language` (as named by language_for) is parsed rather than windowed."""
    return language in _GRAMMARS


@functools.cache
def _parser(language: str) -> Parser | None:
    try:
        return get_parser(language)  # type: ignore[arg-type]
    except LookupError:
        _log.warning("no tree-sitter grammar for %s", language)
        return None


def parse_source(language: str, source: str) -> ParsedSource | None:
    """The file's definitions, or None when it cannot be parsed usefully.

    A tree with syntax errors is still used when it yields definitions: the rows the
    parser could not place end up outside every definition, where nothing is lost.
    """
    grammar = _GRAMMARS.get(language)
    parser = _parser(language) if grammar else None
    if grammar is None or parser is None:
        return None
    root = parser.parse(source.encode("utf-8")).root_node
    lines = source.split("\n")
    comment_rows = frozenset(_comment_rows(root, lines))
    walker = _Walker(grammar, comment_rows, lines)
    definitions = tuple(walker.collect(root.named_children, prefix=""))
    if root.has_error and not definitions:
        return None
    return ParsedSource(definitions, comment_rows)


def _comment_rows(root: Node, lines: Sequence[str]) -> Iterable[int]:
    """Rows whose only content is (part of) a comment."""
    stack = [root]
    while stack:
        node = stack.pop()
        if "comment" not in node.type:
            stack.extend(node.named_children)
            continue
        first, last = node.start_point, node.end_point
        before = lines[first.row].encode("utf-8")[: first.column]
        after = lines[last.row].encode("utf-8")[last.column :]
        if not before.strip() and not after.strip():
            yield from range(first.row, last.row + 1)


@dataclass(slots=True)
class _Walker:
    """Turns the nodes of one syntax tree into Definitions."""

    grammar: _Grammar
    comment_rows: frozenset[int]
    lines: Sequence[str]

    def collect(self, nodes: Sequence[Node], *, prefix: str) -> list[Definition]:
        """The definitions among sibling nodes, names qualified with `prefix`."""
        found: list[Definition] = []
        floor = nodes[0].start_point.row if nodes else 0
        for node in nodes:
            if "comment" in node.type:
                continue
            definition = self._definition(node, prefix=prefix, floor=floor)
            if definition is not None:
                if found and found[-1].end > definition.start:
                    found[-1] = _clip(found[-1], definition.start)
                found.append(definition)
            floor = node.end_point.row + 1
        return found

    def _definition(self, node: Node, *, prefix: str, floor: int) -> Definition | None:
        inner = self._unwrap(node)
        if inner is None:
            return None
        name = self._name(inner)
        if not name:
            return None
        qualified = _qualify(prefix, name)
        start = self._leading_comments(node.start_point.row, floor)
        end = node.end_point.row + 1
        if inner.type in self.grammar.containers:
            members = self.collect(self._members(inner), prefix=qualified)
            return Definition(qualified, start, end, container=True, members=tuple(members))
        return Definition(qualified, start, end)

    def _unwrap(self, node: Node) -> Node | None:
        """The definition node itself, seen through `export`, decorators and `declare`."""
        grammar = self.grammar
        if node.type in grammar.wrappers:
            for child in node.named_children:
                inner = self._unwrap(child)
                if inner is not None:
                    return inner
            return None
        if node.type in grammar.containers or node.type in grammar.types:
            return node
        if node.type in grammar.callables:
            has_body = node.child_by_field_name("body") is not None
            return node if has_body or self._function_value(node) is not None else None
        if node.type in grammar.variables:
            declarators = [c for c in node.named_children if c.type == "variable_declarator"]
            if len(declarators) == 1 and self._function_value(declarators[0]) is not None:
                return declarators[0]
        return None

    def _function_value(self, node: Node) -> Node | None:
        value = node.child_by_field_name("value")
        return value if value is not None and value.type in self.grammar.functions else None

    def _members(self, container: Node) -> list[Node]:
        body = container.child_by_field_name("body")
        if body is None:
            return []
        members: list[Node] = []
        for child in body.named_children:
            if child.type in self.grammar.bodies:
                members.extend(child.named_children)
            else:
                members.append(child)
        return members

    def _name(self, node: Node) -> str:
        """The node's own name; a Go method is named `Receiver.Method`."""
        if node.type == "type_declaration":
            specs = [c.child_by_field_name("name") for c in node.named_children]
            return ", ".join(_text(s) for s in specs if s is not None)
        name = node.child_by_field_name("name") or node.child_by_field_name("property")
        if name is None:
            return ""
        receiver = node.child_by_field_name("receiver")
        if node.type == "method_declaration" and receiver is not None:
            return _qualify(_receiver_type(receiver), _text(name))
        return _text(name)

    def _leading_comments(self, row: int, floor: int) -> int:
        """The first row of the comment block that ends right above `row`.

        A `/** doc */` block also counts when one blank line separates it from `row`,
        a common JSDoc and Javadoc layout.
        """
        first = row
        while first - 1 >= floor and first - 1 in self.comment_rows:
            first -= 1
        gap = row - 1
        if first == row and gap - 1 >= floor and not self.lines[gap].strip():
            doc = gap
            while doc - 1 >= floor and doc - 1 in self.comment_rows:
                doc -= 1
            if doc < gap and self.lines[doc].lstrip().startswith("/**"):
                return doc
        return first


def _receiver_type(receiver: Node) -> str:
    """`T` from a Go receiver such as `(t *T)` or `(s S[K])`."""
    stack = [receiver]
    while stack:
        node = stack.pop(0)
        if node.type == "type_identifier":
            return _text(node)
        stack.extend(node.named_children)
    return ""


def _clip(definition: Definition, end: int) -> Definition:
    """The definition ending at `end`, when the parser let it run into the next one."""
    return Definition(
        definition.name, definition.start, end, definition.container, definition.members
    )


def _qualify(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")
