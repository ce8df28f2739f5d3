"""Guarded YAML: a config file's text in, plain Python data out, or one `yaml.YAMLError` naming the line.

Every configuration file (sources.yaml, clausewatch.yaml) is loaded through `GuardedLoader`: it is
PyYAML's SafeLoader with two limits that a hostile or broken file would otherwise get past.
- Aliases (`*name`) are refused. A "billion laughs" file nests aliases so that a few hundred bytes
  stand for billions of values; any code that walks the loaded data then copies every one of them.
- Nesting is limited to MAX_DEPTH collections; deeper files are refused before the composer's and the
  constructor's recursion could end in a RecursionError.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent

MAX_DEPTH = 64


class GuardedLoader(yaml.SafeLoader):
    """SafeLoader without aliases and with a nesting limit; subclass it to add constructors."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in this file: write the value out", event.start_mark)
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


def load_guarded(text: str, loader: type[GuardedLoader] = GuardedLoader) -> Any:
    """The data of one YAML document, loaded with `loader` (GuardedLoader or a subclass)."""
    if not issubclass(loader, GuardedLoader):
        raise TypeError(f"{loader.__name__} is not a GuardedLoader")
    return yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader subclass)
