"""Engine creation: SQLite gets WAL and a busy timeout so several workers can write; every
connection gets foreign keys enforced. Sessions come in two kinds on the same engine and pool:
write sessions (SQLite: BEGIN IMMEDIATE) and read sessions (SQLite: a deferred BEGIN)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "happiness_read_only"  # execution option of the read-only engine view


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin)
    return engine


def _configure_sqlite_connection(dbapi_connection, _record) -> None:
    # let SQLAlchemy emit BEGIN itself (see _begin) instead of the driver
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin(connection) -> None:
    """Writers take SQLite's write lock at BEGIN: a deferred transaction that reads and then
    writes can fail at once with 'database is locked' when another process wrote in between,
    whereas a waiting BEGIN IMMEDIATE is covered by the busy timeout. Writers queue; nothing is
    lost. Readers begin deferred: in WAL mode a reader works on its snapshot beside the writer,
    so an index query neither waits for ingestion nor holds it up."""
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Engine:
    """The same engine (pool and events) for transactions that only read."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that must only read: on SQLite a write through one could fail at once with
    'database is locked' (see _begin)."""
    return make_session_factory(read_only(engine))
