"""Guarded YAML: a config file's text in, plain Python data out, or one `yaml.YAMLError` naming the line.

Every configuration file (sources.yaml, clausewatch.yaml) is loaded through `GuardedLoader`: PyYAML's
safe loader (libyaml's C parser and composer when PyYAML has them, about ten times faster than the pure-Python
ones, with the same marks for error lines) with two limits that a hostile or broken file would otherwise get past.
- Aliases (`*name`) may stand for at most MAX_ALIAS_VALUES values in all. A "billion laughs" file nests
  aliases so that a few hundred bytes stand for billions of values, and any code that walks the loaded
  data copies every one of them. (Aliases themselves stay allowed: `yaml.safe_dump` writes them for
  shared lists.)
- Nesting is limited to MAX_DEPTH collections, aliases counted where they stand; deeper files are refused
  before the constructor's recursion could end in a RecursionError.
The C composer builds the node graph first (an alias is the anchored node itself, shared, so the graph
stays as small as the text, and libyaml refuses more than 1,000 levels); the limits are then checked on
that graph, in document order, before anything is constructed. Without libyaml the pure-Python composer
checks them while it composes.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64
MAX_ALIAS_VALUES = 10_000
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


def _too_deep(mark: Any, through_alias: bool = False) -> ComposerError:
    return ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep"
                                     f"{' (through an alias)' if through_alias else ''}", mark)


def _too_many_alias_values(mark: Any) -> ComposerError:
    return ComposerError(None, None, f"aliases (*name) expand to more than {MAX_ALIAS_VALUES} values: write the "
                                     f"values out", mark)


class _Limits:
    """Alias values and nesting of one document's node graph, measured once per node."""

    def __init__(self) -> None:
        self.alias_values = 0
        self.shapes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
        self.composing: set[int] = set()  # nodes whose children are being measured (the graph walk only)

    def shape(self, node: Node) -> tuple[int, int]:
        """How many values `node` stands for with its aliases expanded, and how deep it nests."""
        known = self.shapes.get(id(node))
        if known is not None:
            return known
        children = _children(node)
        shapes = [self.shape(child) for child in children]  # bounded: nodes are at most MAX_DEPTH deep
        nests = isinstance(node, (SequenceNode, MappingNode))
        depth = 1 + max((depth for _, depth in shapes), default=0) if nests else 0
        shape = (1 + sum(values for values, _ in shapes), depth)
        self.shapes[id(node)] = shape
        return shape

    def count_alias(self, node: Node, depth: int, mark: Any) -> None:
        """An alias of `node`, standing inside `depth` collections."""
        values, nesting = self.shape(node)
        self.alias_values += values
        if self.alias_values > MAX_ALIAS_VALUES:
            raise _too_many_alias_values(mark)
        if depth + nesting > MAX_DEPTH:
            raise _too_deep(mark, through_alias=True)

    def check(self, node: Node, depth: int = 0, mark: Any = None) -> None:
        """Walk a composed graph in document order: a node met again is an alias of its first occurrence."""
        if id(node) in self.shapes or id(node) in self.composing:
            if id(node) in self.composing:
                raise ComposerError(None, None, "an alias (*name) stands inside the collection it names", mark)
            self.count_alias(node, depth, mark or node.start_mark)
            return
        if isinstance(node, (SequenceNode, MappingNode)):
            if depth + 1 > MAX_DEPTH:
                raise _too_deep(node.start_mark)
            self.composing.add(id(node))
            if isinstance(node, SequenceNode):
                for item in node.value:
                    self.check(item, depth + 1, node.start_mark)
            else:
                for key, value in node.value:
                    self.check(key, depth + 1, key.start_mark)
                    self.check(value, depth + 1, key.start_mark)  # an alias has no mark of its own: its key's
            self.composing.discard(id(node))
        self.shape(node)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _PythonGuardedLoader(yaml.SafeLoader):
    """SafeLoader that checks the limits while it composes (PyYAML without libyaml)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._limits = _Limits()

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent) and event.anchor in self.anchors:
            self._limits.count_alias(self.anchors[event.anchor], self._depth, event.start_mark)
        nests = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if nests:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _too_deep(event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1


class _CGuardedLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader; the limits are checked on the composed graph before construction."""

    def get_single_node(self) -> Any:
        try:
            node = super().get_single_node()
        except yaml.MarkedYAMLError as error:
            if error.problem == _LIBYAML_TOO_DEEP:
                raise _too_deep(error.problem_mark) from None
            raise
        if node is not None:
            _Limits().check(node)
        return node


GuardedLoader: type = _CGuardedLoader if yaml.__with_libyaml__ else _PythonGuardedLoader
GuardedLoader.__doc__ = "The safe loader with limits on aliases and nesting; subclass it to add constructors."


def load_guarded(text: str, loader: type | None = None) -> Any:
    """The data of one YAML document, loaded with `loader` (GuardedLoader or a subclass)."""
    loader = loader or GuardedLoader
    if not issubclass(loader, (_CGuardedLoader, _PythonGuardedLoader)):
        raise TypeError(f"{loader.__name__} is not a GuardedLoader")
    return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader subclass)
