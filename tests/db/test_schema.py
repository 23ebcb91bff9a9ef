"""Migrations, start-up checks and the atomic upsert, on SQLite and PostgreSQL."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from service.db.base import Base
from service.db.engine import make_engine, make_read_session_factory, make_session_factory
from service.db.migrate import DatabaseNotMigrated, ensure_migrated
from service.db.tables import BucketCount
from service.frames.repository import add_counts, claim_frame
from support import add_location_with_camera


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_unmigrated_database_is_refused_naming_the_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(DatabaseNotMigrated, match="happiness db upgrade"):
        ensure_migrated(make_engine(url), url)


def test_app_refuses_to_start_on_an_unmigrated_database(tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app
    from support import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    with pytest.raises(DatabaseNotMigrated):
        with TestClient(create_app(settings, pipeline=pipeline)):
            pass


def test_sqlite_runs_in_wal_mode(tmp_path):
    from service.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade(url)
    with make_engine(url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def other_writer_can_begin(path) -> bool:
    """Whether another connection gets SQLite's write lock at once (no busy wait)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        connection.close()


def test_sqlite_write_sessions_lock_at_begin_and_read_sessions_never(tmp_path):
    """A write session holds the write lock from its first statement, even a read, so two
    writers queue in the busy handler instead of failing on a lock upgrade; a read session reads
    its WAL snapshot without it."""
    path = tmp_path / "locks.db"
    engine = make_engine(f"sqlite:///{path}")
    for factory, locks in ((make_session_factory(engine), True), (make_read_session_factory(engine), False)):
        with factory() as session:
            session.execute(text("SELECT 1"))
            assert other_writer_can_begin(path) is not locks
        assert other_writer_can_begin(path)
    engine.dispose()


def _camera(database_url) -> tuple[int, int]:
    with make_session_factory(make_engine(database_url)).begin() as session:
        return add_location_with_camera(session)


def test_concurrent_upserts_lose_no_count(database_url):
    location_id, camera_id = _camera(database_url)
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    bucket = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def post(_):
        with session_factory.begin() as session:
            add_counts(session, location_id, camera_id, bucket, {"frames": 1, "faces": 3, "happy": 1})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, range(200)))
    with session_factory() as session:
        row = session.execute(select(BucketCount.frames, BucketCount.faces, BucketCount.happy)).one()
        assert tuple(row) == (200, 600, 200)
        assert session.scalar(select(func.count()).select_from(BucketCount)) == 1


def test_a_frame_id_is_claimed_once_under_concurrency(database_url):
    _, camera_id = _camera(database_url)
    session_factory = make_session_factory(make_engine(database_url))
    now = datetime.now(UTC)

    def claim(_):
        with session_factory.begin() as session:
            return claim_frame(session, camera_id, "same", now, now + timedelta(hours=1))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claim, range(40)))
    assert results.count(True) == 1
