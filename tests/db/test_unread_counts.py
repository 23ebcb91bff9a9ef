"""The `unread` count on real SQLite and PostgreSQL: revision 0006 adds it to buckets and days
(existing rows read 0) and removes it again on downgrade; frame writes add it to the bucket and
its local day alike, and a zone change rebuilds it with the rest of the rollup."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import column, insert, inspect, select, table

from service.db.engine import make_engine, make_session_factory
from service.db.migrate import alembic_config
from service.db.tables import BucketCount, DailyCount
from service.db.types import UTCDateTime
from service.frames.repository import add_counts
from service.locations.schemas import LocationUpdate
from service.locations.service import update_location
from support import add_location_with_camera

START = datetime(2026, 11, 30, 23, 45, tzinfo=UTC)
OTHER_COUNTS = ("frames", "happy", "not_happy", "angry", "disgust", "fear", "neutral", "sad", "surprise")
# the count tables as revision 0005 left them: no unread column (bare tables: the models would name it)
BEFORE_0006 = {
    "bucket_counts": table("bucket_counts", column("location_id"), column("camera_id"),
                           column("bucket_start", UTCDateTime()), column("faces"), column("sightings"),
                           *map(column, OTHER_COUNTS)),
    "daily_counts": table("daily_counts", column("location_id"), column("day"), column("faces"),
                          column("sightings"), *map(column, OTHER_COUNTS)),
}


def columns_of(database_url: str, table_name: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table_name)}
    finally:
        engine.dispose()


def test_revision_0006_gives_existing_rows_0_unread(database_url):
    config = alembic_config(database_url)
    sessions = make_session_factory(make_engine(database_url))
    with sessions.begin() as session:
        location_id, camera_id = add_location_with_camera(session)
    command.downgrade(config, "0005")
    try:
        assert "unread" not in columns_of(database_url, "bucket_counts") | columns_of(database_url, "daily_counts")
        with sessions.begin() as session:
            zeros = dict.fromkeys(OTHER_COUNTS, 0)
            session.execute(insert(BEFORE_0006["bucket_counts"]).values(
                location_id=location_id, camera_id=camera_id, bucket_start=START, faces=4, sightings=4, **zeros))
            session.execute(insert(BEFORE_0006["daily_counts"]).values(
                location_id=location_id, day=date(2026, 11, 30), faces=4, sightings=4, **zeros))
    finally:
        command.upgrade(config, "head")
    with sessions() as session:
        assert session.execute(select(BucketCount.faces, BucketCount.unread)).all() == [(4, 0)]
        assert session.execute(select(DailyCount.faces, DailyCount.unread)).all() == [(4, 0)]


def test_frames_add_unread_to_the_bucket_and_its_day_and_a_rebuild_keeps_it(database_url):
    sessions = make_session_factory(make_engine(database_url))
    with sessions.begin() as session:
        location_id, camera_id = add_location_with_camera(session)
        for unread in (2, 3):
            add_counts(session, location_id, camera_id, START,
                       {"frames": 1, "faces": 1, "happy": 1, "unread": unread, "sightings": 1 + unread})
    with sessions() as session:
        assert session.execute(select(BucketCount.faces, BucketCount.unread, BucketCount.sightings)).all() == [(2, 5, 7)]
        assert session.execute(select(DailyCount.day, DailyCount.unread)).all() == [(date(2026, 11, 30), 5)]
    with sessions.begin() as session:  # 23:45 UTC is 1 December in Amsterdam: the day is rebuilt there
        update_location(session, location_id, LocationUpdate(timezone="Europe/Amsterdam"))
    with sessions() as session:
        assert session.execute(select(DailyCount.day, DailyCount.unread)).all() == [(date(2026, 12, 1), 5)]


def test_downgrading_0006_drops_unread_from_both_tables(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    try:
        for table_name in ("bucket_counts", "daily_counts"):
            columns = columns_of(database_url, table_name)
            assert "unread" not in columns and {"faces", "sightings"} <= columns
    finally:
        command.upgrade(config, "head")
    for table_name in ("bucket_counts", "daily_counts"):
        assert "unread" in columns_of(database_url, table_name)
