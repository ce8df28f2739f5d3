"""Exit codes: one meaning each, and README's table is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.errors import ConfigError, DatabaseError, ExitCode, ListenError, UsageError
from monitor.store.health import DEGRADED, EXIT_CODES, OK, UNHEALTHY
from monitor.store.leases import RunLockHeld

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lists_every_exit_code_with_its_name() -> None:
    rows = re.findall(r"^\| (\d+) \| ([A-Z_]+) \| .+ \|$", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert {int(code): name for code, name in rows} == {code.value: code.name for code in ExitCode}


def test_each_failure_has_its_own_code() -> None:
    assert UsageError.exit_code == ConfigError.exit_code == ExitCode.USAGE == 2
    assert DatabaseError.exit_code == ExitCode.DATABASE
    assert RunLockHeld.exit_code == ExitCode.RUN_LOCKED
    assert ListenError.exit_code == ExitCode.CANNOT_LISTEN
    assert EXIT_CODES == {OK: ExitCode.OK, DEGRADED: ExitCode.PROBLEM, UNHEALTHY: ExitCode.UNHEALTHY}
    assert EXIT_CODES[UNHEALTHY] != ExitCode.USAGE  # a health script tells a typo from an outage
