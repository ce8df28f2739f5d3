"""Database access: a URL in, an engine and sessions out; schema creation, and upgrades through Alembic."""

from __future__ import annotations

import atexit
import fcntl
import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from monitor.errors import ConfigError, DatabaseError
from monitor.settings import load_settings, variable
from monitor.store.models import Base

DB_ENV = variable("database")
# The newest migration in migrations/versions (tests/test_migrations.py checks it against alembic's head).
HEAD_REVISION = "0010"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# The wheel carries the top-level migrations/ as monitor/_migrations (pyproject.toml, package-dir);
# a checkout, installed editable or not, has them beside the package.
MIGRATIONS_CANDIDATES = (_PACKAGE_DIR / "_migrations", _PACKAGE_DIR.parent / "migrations")
# How long a SQLite writer waits for another's lock before the database is "locked" for it.
SQLITE_BUSY_SECONDS = 30
# How often a recorder's writer checks whether its turn to write has come (writing_session).
TURN_CHECK_SECONDS = 0.001


def database_url(explicit: str | None = None) -> str:
    """The database to use: the explicit URL, else the `database` setting ($CLAUSEWATCH_DB, else ./clausewatch.db)."""
    url = explicit or load_settings().database
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def connect(url: str | None = None, *, keep_connections: bool = True, must_exist: bool = False) -> Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL and a busy timeout.

    With `keep_connections` false every session opens its own connection and closes it when it ends.
    With `must_exist`, a SQLite file that is not there is an error (SQLite would create it).
    """
    url = database_url(url)
    file = sqlite_file(url)
    if must_exist and file is not None and not file.exists():
        raise DatabaseError(f"no database at {str(file)!r}: check --db / {DB_ENV}, or create it with "
                            f"`clausewatch init`")
    pooling = {} if keep_connections else {"poolclass": NullPool}
    if url.startswith("postgresql+psycopg") and not _psycopg_installed():
        raise ConfigError("PostgreSQL needs the postgres extra: pip install 'clausewatch[postgres]'")
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **pooling)
            event.listen(engine, "connect", _configure_sqlite)
        else:
            engine = create_engine(url, pool_pre_ping=keep_connections, **pooling)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        raise DatabaseError(f"cannot use database {url!r}: {error}") from None
    _engines.add(engine)
    return engine


# Every engine made here, closed at exit by close_engines: the command line ends its process without the
# interpreter's clean-up (monitor/cli/__init__.py, main), which is what closes the connections otherwise.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def close_engines() -> None:
    """Close the connections of every engine still in use (SQLite writes its WAL into the file when its last
    connection closes; a server sees a goodbye, not a dropped socket)."""
    for engine in list(_engines):
        engine.dispose()


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names; None for other databases, in-memory ones and URI filenames."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # create_engine says what is wrong with it
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") or parsed.query:
        return None
    return Path(parsed.database)


def _psycopg_installed() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrations_dir() -> Path:
    """The Alembic migrations: those shipped inside the installed package, else the checkout's."""
    for candidate in MIGRATIONS_CANDIDATES:
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError(f"migrations folder not found at {' or '.join(map(str, MIGRATIONS_CANDIDATES))}")


def alembic_config(engine: Engine | None = None):  # type: ignore[no-untyped-def]
    """The Alembic configuration, built here so that no alembic.ini is needed once installed.

    alembic.ini at the repository root says the same for developers who run `alembic` in the checkout.
    """
    # alembic only when the schema is checked or migrated
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["engine"] = engine
    return config


def init_database(engine: Engine) -> str:
    """Create or upgrade the schema to the newest migration; returns the revision now in force."""
    # alembic only when the schema is checked or migrated
    from alembic import command

    config = alembic_config(engine)
    try:
        command.upgrade(config, "head")
    except OperationalError as error:
        raise DatabaseError(f"cannot reach database {engine.url!r}: {_one_line(error.orig)}") from None
    return current_revision(engine) or ""


def create_schema(engine: Engine) -> None:
    """Give an empty database the newest schema in one transaction: the models' tables, stamped with
    HEAD_REVISION as alembic stamps them. What the ten migrations build (tests/test_migrations.py compares
    the two on both backends), without importing alembic and running them: a cron command's first run on
    a new database starts here."""
    with engine.begin() as connection:
        Base.metadata.create_all(connection)
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": HEAD_REVISION})


def current_revision(engine: Engine) -> str | None:
    # alembic only when the schema is checked or migrated
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    # alembic only when the schema is checked or migrated
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def ensure_database(engine: Engine) -> None:
    """Create the schema in an empty database; refuse a database whose schema is behind.

    A database at HEAD_REVISION is read in one query, with no alembic: every cron run starts here."""
    try:
        tables = inspect(engine).get_table_names()
    except OperationalError as error:
        raise DatabaseError(f"cannot reach database {engine.url!r}: {_one_line(error.orig)}") from None
    if not tables:
        _create_schema_unless_another_did(engine)
        return
    if "source" not in tables:
        init_database(engine)
        return
    if _stored_revision(engine, tables) == HEAD_REVISION:
        return
    if current_revision(engine) != head_revision(engine):
        raise DatabaseError(f"the database schema at {engine.url!r} is out of date: run `clausewatch init`")


def _create_schema_unless_another_did(engine: Engine) -> None:
    """create_schema, where a second command starting on the same new database may be creating it too."""
    try:
        create_schema(engine)
    except SQLAlchemyError as error:
        if _revision_now(engine) == HEAD_REVISION:
            return  # the other command's schema
        if isinstance(error, OperationalError):
            raise DatabaseError(f"cannot reach database {engine.url!r}: {_one_line(error.orig)}") from None
        raise


def _revision_now(engine: Engine) -> str | None:
    try:
        return _stored_revision(engine, inspect(engine).get_table_names())
    except SQLAlchemyError:
        return None


def _stored_revision(engine: Engine, tables: list[str]) -> str | None:
    """The revision alembic stamped in the database (one row), read without alembic."""
    if "alembic_version" not in tables:
        return None
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _one_line(error: object) -> str:
    return " ".join(str(error).split())


def begin_writing(session: Session) -> None:
    """Start the session's transaction with SQLite's write lock (BEGIN IMMEDIATE), waiting for another
    writer up to the busy timeout, so that what the transaction reads stays true until it commits.

    SQLite otherwise reads outside any transaction until the first write, and a writer whose reads are
    older than another's commit fails. On PostgreSQL this does nothing: lock the rows read (FOR UPDATE).
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def writing_session(engine: Engine) -> Iterator[Session]:
    """A session_scope whose transaction starts with the write lock (begin_writing).

    On a SQLite file the recorder's writers first take turns at a lock file beside it
    (`<database>.write-turn`), checked every millisecond. SQLite's own busy handler sleeps between its tries,
    longer each time (up to 100 ms), past the moment the other writer commits: in an import of genai-eu
    each of two workers waited 0.47 s in all at SQLite's lock, and 0.15 to 0.31 s taking turns. After the
    busy timeout a writer stops waiting for its turn and goes on to SQLite's lock, which is what orders the
    writers that do not take turns (other commands, older versions).
    """
    with _writers_turn(engine), session_scope(engine) as session:
        begin_writing(session)
        yield session


@contextmanager
def _writers_turn(engine: Engine) -> Iterator[None]:
    file = sqlite_file(engine.url)
    turn = _open_turn_file(file) if file is not None else None
    if turn is None:
        yield
        return
    try:
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        while not _try_lock(turn) and time.monotonic() < deadline:
            time.sleep(TURN_CHECK_SECONDS)
        yield
    finally:
        os.close(turn)  # releases the lock, if this writer had it


def _open_turn_file(file: Path) -> int | None:
    try:
        return os.open(f"{file}.write-turn", os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:  # a folder this process cannot write to: SQLite's lock alone orders the writers
        return None


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


_sessionmakers: dict[int, sessionmaker[Session]] = {}


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on any error."""
    factory = _sessionmakers.setdefault(id(engine), sessionmaker(engine, expire_on_commit=False))
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
