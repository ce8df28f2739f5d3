"""The errors ClauseWatch raises on purpose; the CLI turns each into one line and an exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every code the command line exits with, one meaning each (README's table lists them; a test checks)."""

    OK = 0  # success; `health`: ok
    # some fetches failed (`run`), a capture failed (`ingest`) or has a problem (`check-source`); `health`: degraded
    PROBLEM = 1
    USAGE = 2  # a bad sources or config file, option or argument
    DATABASE = 3  # the database cannot be reached, does not exist, or its schema is out of date
    RUN_LOCKED = 4  # another `run --once` is still running on this database
    CANNOT_LISTEN = 5  # `serve` cannot listen on its address
    UNHEALTHY = 6  # `health`: unhealthy


class ClauseWatchError(Exception):
    """Base of every error meant for the user; `exit_code` is what the CLI exits with."""

    exit_code = ExitCode.PROBLEM


class ConfigError(ClauseWatchError):
    """A configuration or sources file is wrong (names the file, the source and the field)."""

    exit_code = ExitCode.USAGE


class UsageError(ClauseWatchError):
    """A command was given an argument that cannot work (unknown source id, bad timestamp)."""

    exit_code = ExitCode.USAGE


class DatabaseError(ClauseWatchError):
    """The database cannot be reached or is not initialised."""

    exit_code = ExitCode.DATABASE


class ExtractionError(ClauseWatchError):
    """A body is not a valid capture of the terms.

    `kind` is the fetch-attempt outcome it maps to: `invalid` (selector matched nothing,
    expected phrase missing, known error page, far too short) or `blocked` (bot challenge,
    login wall, access denied).
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class ListenError(ClauseWatchError):
    """`serve` cannot listen on its address (the port is taken, the address is not this machine's)."""

    exit_code = ExitCode.CANNOT_LISTEN
