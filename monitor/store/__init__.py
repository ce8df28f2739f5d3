"""Store stage: plain pipeline objects in, rows out; the only module that talks to the database."""

from monitor.store.db import connect, init_database, session_scope
from monitor.store.models import (
    Base,
    ChangeEvent,
    ClauseRow,
    FetchAttempt,
    Notification,
    Snapshot,
    SourceRow,
    Version,
)

__all__ = [
    "Base",
    "ChangeEvent",
    "ClauseRow",
    "FetchAttempt",
    "Notification",
    "Snapshot",
    "SourceRow",
    "Version",
    "connect",
    "init_database",
    "session_scope",
]
