"""Guarded YAML: a config file's text in, plain Python data out, or one `yaml.YAMLError` naming the line.

Every configuration file (sources.yaml, clausewatch.yaml) is loaded through `GuardedLoader`: it is
PyYAML's SafeLoader with two limits that a hostile or broken file would otherwise get past.
- Aliases (`*name`) may stand for at most MAX_ALIAS_VALUES values in all. A "billion laughs" file nests
  aliases so that a few hundred bytes stand for billions of values, and any code that walks the loaded
  data copies every one of them. (Aliases themselves stay allowed: `yaml.safe_dump` writes them for
  shared lists.)
- Nesting is limited to MAX_DEPTH collections, aliases counted where they stand; deeper files are refused
  before the composer's and the constructor's recursion could end in a RecursionError.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64
MAX_ALIAS_VALUES = 10_000


class GuardedLoader(yaml.SafeLoader):
    """SafeLoader with limits on what aliases expand to and on nesting; subclass it to add constructors."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_values = 0
        self._shapes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), each node measured once

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent) and event.anchor in self.anchors:
            self._count_alias(self.anchors[event.anchor], event)
        nests = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if nests:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1

    def _count_alias(self, node: Node, event: AliasEvent) -> None:
        values, depth = self._shape(node)
        self._alias_values += values
        if self._alias_values > MAX_ALIAS_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*name) expand to more than {MAX_ALIAS_VALUES} values: write the "
                            f"values out", event.start_mark)
        if self._depth + depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep (through an alias)", event.start_mark)

    def _shape(self, node: Node) -> tuple[int, int]:
        """How many values `node` stands for with its aliases expanded, and how deep it nests."""
        known = self._shapes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        shapes = [self._shape(child) for child in children]  # bounded: nodes are at most MAX_DEPTH deep
        nests = isinstance(node, (SequenceNode, MappingNode))
        depth = 1 + max((depth for _, depth in shapes), default=0) if nests else 0
        shape = (1 + sum(values for values, _ in shapes), depth)
        self._shapes[id(node)] = shape
        return shape


def load_guarded(text: str, loader: type[GuardedLoader] = GuardedLoader) -> Any:
    """The data of one YAML document, loaded with `loader` (GuardedLoader or a subclass)."""
    if not issubclass(loader, GuardedLoader):
        raise TypeError(f"{loader.__name__} is not a GuardedLoader")
    return yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader subclass)
