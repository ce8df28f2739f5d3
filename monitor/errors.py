"""The errors ClauseWatch raises on purpose; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class ClauseWatchError(Exception):
    """Base of every error meant for the user; `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(ClauseWatchError):
    """A configuration or sources file is wrong (names the file, the source and the field)."""

    exit_code = 2


class UsageError(ClauseWatchError):
    """A command was given an argument that cannot work (unknown source id, bad timestamp)."""

    exit_code = 2


class DatabaseError(ClauseWatchError):
    """The database cannot be reached or is not initialised."""

    exit_code = 3


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

    exit_code = 5
