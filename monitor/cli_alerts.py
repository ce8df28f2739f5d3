"""Command line: the alerts commands (registered on the `clausewatch` group)."""

from __future__ import annotations

from monitor.cli import cli  # noqa: F401
