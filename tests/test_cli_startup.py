"""What a cron run imports (issue 14, item 3): `run --once` loads neither the web app, nor the uses registry,
nor jinja2, nor anything else it does not use on that run; every command is still there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

PAGE = "<html><body><main><h1>Terms</h1><p>" + "You may not use Output to develop competing models. " * 40 + \
       "</p></main></body></html>"
# Run the command line in-process, then write the names of every module it imported.
RUN_AND_LIST_MODULES = """
import atexit, json, sys
listing = sys.argv[1]
atexit.register(lambda: open(listing, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["clausewatch"] + sys.argv[2:]
from monitor.cli import main
main()
"""
# (rich.progress is not in the list: httpx imports it for its own command line, httpx._main.)
NOT_FOR_A_CRON_RUN = ("jinja2", "starlette", "uvicorn", "playwright", "pypdf", "langdetect", "apprise", "monitor.web",
                      "monitor.uses", "monitor.cli.web", "monitor.cli.uses", "monitor.cli.worker", "monitor.cli.alerts",
                      "monitor.cli.ops", "sqlalchemy.dialects.postgresql")


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    listing = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={name: value for name, value in os.environ.items()
                               if not name.startswith("CLAUSEWATCH_")} | {"XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return set(json.loads(listing.read_text()))


def test_run_once_imports_nothing_it_does_not_use(local_server, tmp_path: Path) -> None:
    url = local_server.serve("/terms", PAGE)
    entry = {"id": "example-terms", "provider": "Example", "title": "Terms", "url": url, "allow_private": True}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [entry]}))
    modules = imported_by(tmp_path, "--db", f"sqlite:///{tmp_path / 'cw.db'}", "run", "--once", "--quiet")
    assert "monitor.pipeline" in modules  # the run did run
    unwanted = {name for name in modules for prefix in NOT_FOR_A_CRON_RUN
                if name == prefix or name.startswith(prefix + ".")}
    assert unwanted == set()


def test_every_command_of_the_lazy_modules_is_listed_and_runs(tmp_path: Path) -> None:
    from monitor import cli as cli_module

    for module in set(cli_module.LAZY_COMMANDS.values()):
        __import__(module)
    defined_lazily = {name: command.callback.__module__ for name, command in cli_module.cli.commands.items()
                      if command.callback.__module__ not in cli_module.EAGER_MODULES}
    assert defined_lazily == cli_module.LAZY_COMMANDS
    done = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, timeout=60)
    assert all(f"  {name} " in done.stdout for name in cli_module.LAZY_COMMANDS), done.stdout
    can = subprocess.run([sys.executable, "-m", "monitor", "can", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert can.returncode == 0 and "Usage: clausewatch can" in can.stdout


def test_a_run_imports_no_alembic_on_a_new_database_nor_on_a_current_one(local_server, tmp_path: Path) -> None:
    """Only migrating a schema needs alembic (and mako, and pygments' lexers): a cron run creates a new
    database's schema from the models, and reads a current database's revision in one query."""
    url = local_server.serve("/terms", PAGE)
    entry = {"id": "example-terms", "provider": "Example", "title": "Terms", "url": url, "allow_private": True}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [entry]}))
    database = ["--db", f"sqlite:///{tmp_path / 'cw.db'}"]
    for run in ("first", "later"):
        modules = imported_by(tmp_path, *database, "run", "--once", "--quiet")
        assert "monitor.pipeline" in modules, run
        assert not {name for name in modules if name.split(".")[0] in ("alembic", "mako")}, run
    from monitor.store import connect
    from monitor.store.db import current_revision, head_revision

    engine = connect(f"sqlite:///{tmp_path / 'cw.db'}")
    assert current_revision(engine) == head_revision(engine)


# Run the command line in-process, noting how each analysis pool starts its workers and what they analyse.
RUN_AND_NOTE_THE_POOL = """
import sys
from monitor import analysis
made = analysis.AnalysisPool.__init__
def noting(pool, processes):
    print("modules at the fork:", " ".join(sorted(sys.modules)), file=sys.stderr)
    made(pool, processes)
    print("workers by", pool.start_method, file=sys.stderr)
analysis.AnalysisPool.__init__ = noting
sys.argv = ["clausewatch"] + sys.argv[1:]
from monitor.cli import main
main()
"""

# What fetching and sending alerts import: a forked analysis worker has none of it.
ONLY_FOR_THE_COMMAND = ("httpx", "httpcore", "h11", "protego", "tenacity", "smtplib", "monitor.fetch.http",
                        "monitor.alerts.webhook", "monitor.alerts.email", "monitor.alerts.slack")

# rich then draws its progress bars from a thread of their own, as at a terminal
AS_AT_A_TERMINAL = {"TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1"}


def test_a_cron_run_forks_its_analysis_workers_from_itself(local_server, tmp_path: Path) -> None:
    # No fork server: started first thing, while the command has one thread, the workers inherit its imports
    # (issue 14: a fork server imported the pipeline again, about a second of CPU and 80 MB a run).
    entries = [{"id": f"terms-{index}", "provider": "Example", "title": "Terms", "allow_private": True,
                "url": local_server.serve(f"/terms/{index}", PAGE.replace("<h1>Terms", f"<h1>Terms {index}"))}
               for index in range(8)]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    done = subprocess.run([sys.executable, "-c", RUN_AND_NOTE_THE_POOL, "--db", f"sqlite:///{tmp_path / 'cw.db'}",
                           "run", "--once"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={name: value for name, value in os.environ.items() if not name.startswith("CLAUSEWATCH_")}
                          | {"XDG_CACHE_HOME": str(tmp_path), "CLAUSEWATCH_ANALYSIS_PROCESSES": "2", **AS_AT_A_TERMINAL})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "workers by fork" in done.stderr and "forkserver" not in done.stderr
    assert "new versions 8," in done.stdout
    # The workers analyse and store what the command fetched: they fork without the HTTP client and the alert
    # channels' clients, which only the command loads, after the fork.
    at_the_fork = set(done.stderr.split("modules at the fork:", 1)[1].split("\n", 1)[0].split())
    assert "monitor.pipeline.recorder" in at_the_fork
    assert at_the_fork & set(ONLY_FOR_THE_COMMAND) == set()


def test_an_import_forks_its_analysis_workers_from_itself(tmp_path: Path) -> None:
    (tmp_path / "none.yaml").write_text("sources: []\n")
    for day in range(1, 9):
        version = tmp_path / "dataset" / "Example" / "Terms of Use" / f"2026-01-0{day}T00-00-00Z.md"
        version.parent.mkdir(parents=True, exist_ok=True)
        version.write_text("# Terms of Use\n\n" + "\n\n".join(
            f"{number}. You may not use Output to develop models that compete with us ({day})."
            for number in range(1, 12)))
    done = subprocess.run([sys.executable, "-c", RUN_AND_NOTE_THE_POOL, "--db", f"sqlite:///{tmp_path / 'cw.db'}",
                           "--sources", str(tmp_path / "none.yaml"), "import", str(tmp_path / "dataset")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={name: value for name, value in os.environ.items() if not name.startswith("CLAUSEWATCH_")}
                          | {"XDG_CACHE_HOME": str(tmp_path), "CLAUSEWATCH_ANALYSIS_PROCESSES": "2", **AS_AT_A_TERMINAL})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "workers by fork" in done.stderr and "forkserver" not in done.stderr
    assert "imported 8 recorded versions" in done.stdout
