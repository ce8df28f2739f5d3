"""The import graph: stages import downward only, so the store never reaches up into the pipeline or the alerts.

Every import counts, also those inside functions: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
# The command line is one unit: the package monitor/cli (its group loads its commands lazily) and `python -m`.
CLI_FAMILY = ("monitor.cli", "monitor.__main__")
# Only the orchestrator and what stands above it may import these.
UPPER = ("monitor.pipeline", "monitor.worker", "monitor.importer", *CLI_FAMILY, "monitor.web")


def _unit(module: str) -> str:
    """A stage: a top-level module or subpackage of monitor (the CLI family counts as one)."""
    unit = ".".join(module.split(".")[:2])
    return "monitor.cli" if unit in CLI_FAMILY else unit


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            graph[module].update(name for name in names if name.startswith("monitor."))
    return graph


def _unit_graph() -> dict[str, set[str]]:
    units: dict[str, set[str]] = defaultdict(set)
    for module, targets in _imports().items():
        units[_unit(module)].update(_unit(t) for t in targets if _unit(t) != _unit(module))
    return units


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_stages() -> None:
    graph = _unit_graph()
    assert "monitor.store" in graph and "monitor.pipeline" in graph  # the walk found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_store_and_the_alerts_never_import_the_orchestrator_or_its_callers() -> None:
    graph = _unit_graph()
    for lower in ("monitor.store", "monitor.alerts", "monitor.fetch", "monitor.extract", "monitor.clauses",
                  "monitor.changes", "monitor.uses"):
        assert not graph[lower] & {_unit(m) for m in UPPER}, (lower, sorted(graph[lower]))


# README's "Architecture" section: a stage imports only stages of lower layers (and the package's version).
LAYERS = {
    0: ("monitor.errors",),
    1: ("monitor.timestamps", "monitor.durations", "monitor.directions", "monitor.diffs", "monitor.urls",
        "monitor.yaml_loader", "monitor.logs", "monitor.settings", "monitor.memo"),
    2: ("monitor.sources", "monitor.extract"),
    3: ("monitor.fetch", "monitor.clauses", "monitor.schedule"),
    4: ("monitor.changes", "monitor.store", "monitor.effective_settings"),
    5: ("monitor.analysis", "monitor.uses"),
    6: ("monitor.alerts",),
    7: ("monitor.pipeline", "monitor.web"),
    8: ("monitor.importer", "monitor.worker"),
    9: ("monitor.cli",),
}


def test_each_stage_imports_only_lower_layers() -> None:
    layer_of = {unit: layer for layer, units in LAYERS.items() for unit in units}
    graph = _unit_graph()
    assert set(graph) - {"monitor"} <= set(layer_of), sorted(set(graph) - set(layer_of))
    upward = [(unit, target) for unit, targets in graph.items() for target in targets
              if target != "monitor" and layer_of[target] >= layer_of[unit] and unit != "monitor"]
    assert upward == [], upward


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


# ------------------------------------------------------------------ sizes: one job per module, short functions
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines from `def` to its last line) of every function over MAX_FUNCTION_LINES whose docstring does
    not say why ("Long because ...")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and "Long because" not in (ast.get_docstring(node) or ""):
                found.append((node.name, length))
    return found


def _modules() -> dict[str, str]:
    return {path.relative_to(PACKAGE.parent).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_is_over_400_lines() -> None:
    modules = _modules()
    assert "monitor/store/models.py" in modules  # the walk found the package
    long = {name: len(text.splitlines()) for name, text in modules.items()
            if len(text.splitlines()) > MAX_MODULE_LINES}
    assert long == {}, f"split these along their seams (one job per module): {long}"


def test_no_function_is_over_60_lines_unless_its_docstring_says_why() -> None:
    long = {name: found for name, text in _modules().items() if (found := _long_functions(text))}
    assert long == {}, f"split these into named steps, or say why in a docstring starting 'Long because': {long}"


def test_the_function_measure_counts_from_def_to_the_last_line_and_reads_the_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))
    assert _long_functions(f"def short():\n{body}") == []
    assert _long_functions(f"def long():\n{body}    return 1\n") == [("long", MAX_FUNCTION_LINES + 1)]
    reason = '    """Long because one statement per option."""\n'
    assert _long_functions(f"def explained():\n{reason}{body}    return 1\n") == []


# ------------------------------------------------------------------ imports inside functions say why
# The command line imports each command's stages inside the command, by policy: a cron run (`run --once`) then
# loads only what it uses (tests/test_cli_startup.py checks that list); README's Architecture section says so.
LAZY_BY_POLICY = ("monitor/cli/",)


def _unexplained_inner_imports(source: str) -> list[int]:
    """Line numbers of imports inside a function with no comment on their line or above their block of imports."""
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not _explained(lines, node.lineno):
                found.append(node.lineno)
    return sorted(set(found))


def _explained(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or on the line above the run of import lines it belongs to."""
    if "#" in lines[lineno - 1]:
        return True
    above = lineno - 2
    while above >= 0 and lines[above].strip().startswith(("import ", "from ")):
        above -= 1
    return above >= 0 and lines[above].strip().startswith("#")


def test_every_import_inside_a_function_says_why() -> None:
    unexplained = {name: found for name, text in _modules().items()
                   if not name.startswith(LAZY_BY_POLICY) and (found := _unexplained_inner_imports(text))}
    assert unexplained == {}, ("move these imports to the top of their module, or say on the line above why "
                               f"they are imported where they are used: {unexplained}")


def test_the_inner_import_check_reads_the_comment_above_a_block() -> None:
    assert _unexplained_inner_imports("def f():\n    import os\n") == [2]
    assert _unexplained_inner_imports("def f():\n    # only here\n    import os\n    import re\n") == []
    assert _unexplained_inner_imports("import os\n") == []
