"""Engine creation: SQLite gets WAL and a busy timeout so several workers can write; every
connection gets foreign keys enforced. Sessions come in two kinds on the same engine and pool:
write sessions (SQLite: BEGIN IMMEDIATE) and read sessions (SQLite: a deferred BEGIN)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "happiness_read_only"  # execution option of the read-only engine view
PING_AFTER_IDLE_S = 1.0
IDLE_SINCE = "happiness_idle_since"  # key in a pooled connection's info
FACTORY_SHARED = "happiness_factory_shared"  # key in Session.info: one dict per session factory


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for `url`; `pool_size` and `max_overflow` bound a PostgreSQL pool (the server
    sizes them from its workers, see Settings.db_pool_size_per_worker)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return _postgres_engine(url, pool_size, max_overflow)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin)
    return engine


def _postgres_engine(url: str, pool_size: int, max_overflow: int) -> Engine:
    """A pool whose connections are pinged only after PING_AFTER_IDLE_S idle: pool_pre_ping's
    round trip on every checkout cost each frame CPU here and in PostgreSQL, and wall time
    (BENCHMARKS.md, section 2), while a connection used a moment ago has just shown it works."""
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


def _note_idle_since(_dbapi_connection, record) -> None:
    record.info[IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect, dbapi_connection, record, _proxy) -> None:
    """A dead idle connection (the server restarted, the network cut) is replaced before use,
    and the pool's older connections with it. A drop within the last second fails its request,
    as a drop during the request would, and that error renews the pool too (SQLAlchemy
    invalidates a pool on any disconnect error): the next request gets a new connection."""
    idle_since = record.info.get(IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_S:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:  # the pool reconnects (or raises the connect error)
        raise InvalidatePoolError(f"an idle connection failed its ping: {error}") from error


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
    """Sessions on `engine`; they share one dict (factory_shared) for what outlives a session."""
    return sessionmaker(engine, expire_on_commit=False, info={FACTORY_SHARED: {}})


def factory_shared(session: Session) -> dict:
    """The dict shared by the sessions of `session`'s factory, for hints that outlive one
    session (the rollup's time zones): scoped to one app and database, where a module global
    would outlive the app and mix databases. A session made without a factory gets its own."""
    return session.info.setdefault(FACTORY_SHARED, {})


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that must only read: on SQLite a write through one could fail at once with
    'database is locked' (see _begin)."""
    return make_session_factory(read_only(engine))
