"""The database connection: SQLite by default (WAL, full sync, a busy timeout), PostgreSQL by URL.

``Database`` owns one SQLAlchemy engine and its session factory; the app makes one in its
lifespan and disposes of it on shutdown (nothing module-level). Migrations are Alembic's
(``migrations/``): ``upgrade`` brings a database to the newest revision, ``require_current``
refuses to serve a database that is behind and names the command that fixes it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mcae.inference.disk_full import is_out_of_space
from mcae.inference.errors import ProjectStateError, StorageError
from mcae.platform.errors import ServiceBusy

if TYPE_CHECKING:
    from mcae.platform.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseNotMigrated(ProjectStateError):
    """The database is missing tables or is behind the code's newest migration."""


class DatabaseUnavailable(ProjectStateError):
    """The database cannot be opened: its server does not answer or refuses the login, or its
    folder cannot be made."""


@contextmanager
def reaching(url: str) -> Iterator[None]:
    """Failures to connect to ``url`` (or to make its SQLite folder) as one-line
    :class:`DatabaseUnavailable` errors, for the command line (the URL without its password)."""
    try:
        yield
    except OperationalError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        raise DatabaseUnavailable(f"cannot open the annotation database {redacted(url)}: "
                                  f"{lines[0] if lines else 'no answer'}") from None
    except OSError as exc:
        if is_out_of_space(exc):
            raise
        raise DatabaseUnavailable(f"cannot open the annotation database {redacted(url)}: "
                                  f"{exc.strerror or exc}") from None


def make_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for ``url``; SQLite gets WAL, ``synchronous=FULL`` and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})
        _sqlite_pragmas(engine, busy_timeout_s)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


def _sqlite_pragmas(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's BEGIN (below) open transactions, not the sqlite3 module
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # writes take the lock at the start (no deadlock upgrading a read lock later);
        # reads in WAL mode need none
        read_only = conn.get_execution_options().get("mcae_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


BUSY_SQLSTATES = {"40P01", "40001", "55P03"}  # deadlock, serialization failure, lock not available


def busy(exc: DBAPIError) -> bool:
    """Whether a database error means "locked or busy, try again" rather than a fault."""
    if getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, engine: Engine | None = None) -> str | None:
    """Migrate the database at ``url`` to the newest revision; returns it."""
    config = alembic_config(url)
    if engine is not None:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    else:
        command.upgrade(config, "head")
    return head_revision()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


class WriterLock:
    """SQLite has one writer at a time. Writers queue here, in this process on a thread lock and
    between processes (``mcae serve --workers N``) on an advisory lock of a file beside the
    database, polled every millisecond: each gets its turn as soon as the previous one commits,
    where SQLite's busy handler backs off to 100 ms sleeps and starves some writers for seconds."""

    POLL_S = 0.001

    def __init__(self, url: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._thread = threading.Lock()
        database = make_url(url).database
        self._path = f"{database}.writer-lock" if database and database != ":memory:" else None
        self._fd: int | None = None

    def acquire(self) -> bool:
        deadline = time.monotonic() + self.timeout_s
        if not self._thread.acquire(timeout=self.timeout_s):
            return False
        if self._path is None:
            return True
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._thread.release()
                    return False
                time.sleep(self.POLL_S)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()


class Database:
    """One engine and its sessions."""

    def __init__(self, url: str, busy_timeout_s: float = 30.0) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        self.engine = make_engine(url, busy_timeout_s)
        self._writer = WriterLock(url, busy_timeout_s) if is_sqlite(url) else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(mcae_read_only=True),
                                     expire_on_commit=False)

    def upgrade(self) -> str | None:
        return upgrade(self.url, self.engine)

    def require_current(self, migrate_sqlite: bool = True) -> None:
        """Make sure the schema is the newest: SQLite migrates itself, others must be migrated."""
        head, current = head_revision(), current_revision(self.engine)
        if current == head:
            return
        if migrate_sqlite and is_sqlite(self.url):
            self.upgrade()
            return
        raise DatabaseNotMigrated(
            f"the database {redacted(self.url)} is at revision {current or 'none'} and this MCAE "
            f"needs {head}: run `mcae db upgrade` first")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error; a database
        that stays locked, or a deadlock broken by PostgreSQL, is ``ServiceBusy`` (503), never a 500."""
        if self._writer is not None and not self._writer.acquire():
            raise ServiceBusy()
        try:
            with self._sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            if busy(exc):
                raise ServiceBusy() from exc
            if is_out_of_space(exc):  # rolled back: nothing of the transaction was saved
                raise StorageError("no space left on the annotation database's disk; nothing was saved: "
                                   "free some space and send the request again") from exc
            raise
        finally:
            if self._writer is not None:
                self._writer.release()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads: no write lock; rolled back at the end."""
        with self._readers() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, migrate: bool = True, create: bool = True) -> Database:
    """The settings' database, checked (SQLite migrated when ``migrate``): what a command or the
    demo opens, once.

    ``create=False``: a SQLite file that does not exist is an error naming it, never a new
    empty database (a command looking for a project's decisions must not make one).
    """
    url = settings.database_url()
    path = sqlite_file(url)
    if not create and path is not None and not path.is_file():
        raise ProjectStateError(f"no annotation database at {path}: give the --catalog or --database the "
                                "project was added with (`mcae projects add`), or set MCAE_DATABASE__URL")
    with reaching(url):
        db = Database(url, settings.database.busy_timeout_s)
        try:
            db.require_current(migrate_sqlite=migrate)
        except BaseException:
            db.dispose()
            raise
    return db


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)
