"""The pipeline stage's layout: small modules with one job each, importing one another downward only."""

from __future__ import annotations

import ast
from pathlib import Path

STAGE = Path(__file__).resolve().parent.parent / "monitor" / "pipeline"
# Each module may import only those before it (monitor/pipeline/__init__.py lists their jobs).
ORDER = ("capture", "checks", "decide", "rows", "recorder", "analysis_batches", "cycle", "ingest")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, ast.Module]:
    files = sorted(STAGE.glob("*.py")) if STAGE.is_dir() else [STAGE.with_suffix(".py")]
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in files}


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_of_the_stage_is_over_400_lines() -> None:
    files = sorted(STAGE.glob("*.py")) if STAGE.is_dir() else [STAGE.with_suffix(".py")]
    too_long = {path.name: _lines(path) for path in files if _lines(path) > MAX_MODULE_LINES}
    assert too_long == {}
    assert len(files) > 1


def test_no_function_of_the_stage_is_over_60_lines() -> None:
    too_long = [(module, node.name, node.end_lineno - node.lineno + 1)
                for module, tree in _modules().items() for node in ast.walk(tree)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert too_long == []


def test_the_stage_s_modules_import_only_those_before_them() -> None:
    modules = _modules()
    assert set(modules) == {*ORDER, "__init__"}
    upward = []
    for module in ORDER:
        for node in ast.walk(modules[module]):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("monitor.pipeline"):
                target = node.module.removeprefix("monitor.pipeline").lstrip(".")
                if target not in ORDER or ORDER.index(target) >= ORDER.index(module):
                    upward.append((module, node.module))
    assert upward == []
