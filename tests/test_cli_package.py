"""The command line as a package (issue 15, item 5): one module per family of commands, each under 400 lines,
and every `--json` printed by one helper (monitor/cli/options.py: indented, non-ASCII text as it is)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from monitor.cli import cli

CLI_PACKAGE = Path(__file__).resolve().parent.parent / "monitor" / "cli"
MODULE_LINE_LIMIT = 400


def _cli_modules() -> list[Path]:
    modules = sorted(CLI_PACKAGE.glob("*.py"))
    assert CLI_PACKAGE / "__init__.py" in modules and CLI_PACKAGE / "options.py" in modules
    return modules


def test_each_module_of_the_command_line_is_under_400_lines() -> None:
    long = {path.name: lines for path in _cli_modules()
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINE_LIMIT}
    assert long == {}


def test_json_is_printed_by_options_print_json_alone() -> None:
    dumping = []
    for path in _cli_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "dumps" and path.name != "options.py":
                dumping.append(f"{path.name}:{node.lineno}")
    assert dumping == []


def test_sources_json_keeps_non_ascii_text_as_it_is(tmp_path: Path) -> None:
    entry = {"id": "le-chat-cgu", "provider": "Mistral", "title": "Conditions générales d’utilisation",
             "url": "https://example.org/cgu"}
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": [entry]}, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--sources", str(sources_file), "sources", "--json"])
    assert result.exit_code == 0, result.output
    assert "Conditions générales d’utilisation" in result.output
    assert json.loads(result.output)[0]["title"] == entry["title"]
