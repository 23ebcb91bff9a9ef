"""The daily rollup on real SQLite and PostgreSQL: after every kind of write (frame counts, a
time-zone change, retention, the migration's backfill, concurrent writers) daily_counts equals
bucket_counts summed over cameras by the local day that zoneinfo gives each bucket's start."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import column, insert, select, table

from count_history import SPRING, add_place, random_counts, seed
from service.db.engine import make_engine, make_session_factory
from service.db.migrate import alembic_config
from service.retention.pruning import prune
from service.db.tables import COUNT_COLUMNS, BucketCount, Camera, DailyCount, Location
from service.db.types import UTCDateTime
from service.frames.repository import add_counts
from service.locations.schemas import LocationUpdate
from service.locations.service import update_location


def rollup_of(session) -> dict[tuple[int, date], dict[str, int]]:
    rows = session.execute(select(DailyCount.__table__))
    return {(row.location_id, row.day): {c: row._mapping[c] for c in COUNT_COLUMNS} for row in rows}


def buckets_by_local_day(session) -> dict[tuple[int, date], dict[str, int]]:
    """The rollup's definition, computed here from the buckets alone."""
    zones = dict(session.execute(select(Location.id, Location.timezone)).all())
    expected: dict[tuple[int, date], dict[str, int]] = {}
    for row in session.execute(select(BucketCount.__table__)):
        day = row.bucket_start.astimezone(ZoneInfo(zones[row.location_id])).date()
        total = expected.setdefault((row.location_id, day), dict.fromkeys(COUNT_COLUMNS, 0))
        for column in COUNT_COLUMNS:
            total[column] += row._mapping[column]
    return expected


def assert_rollup_exact(session_factory) -> None:
    with session_factory() as session:
        assert rollup_of(session) == buckets_by_local_day(session)


def sessions_for(database_url):
    return make_session_factory(make_engine(database_url))


def test_every_frame_write_keeps_the_rollup_equal_to_its_buckets(database_url):
    session_factory = sessions_for(database_url)
    places = seed(session_factory)
    assert_rollup_exact(session_factory)
    amsterdam = places["Europe/Amsterdam"]
    with session_factory.begin() as session:
        # 29 March in Amsterdam runs from 23:00 UTC (CET) to 22:00 UTC (CEST): 23 hours
        for minute_utc in (datetime(2026, 3, 28, 22, 45), datetime(2026, 3, 28, 23, 0),
                           datetime(2026, 3, 29, 21, 45), datetime(2026, 3, 29, 22, 0)):
            add_counts(session, amsterdam, _camera_of(session, amsterdam), minute_utc.replace(tzinfo=UTC),
                       {"frames": 1, "faces": 1000})
    with session_factory() as session:
        rollup = rollup_of(session)
        before, day, after = (rollup[(amsterdam, date(2026, 3, d))]["faces"] for d in (28, 29, 30))
        assert before >= 1000 and day >= 2000 and after >= 1000
    assert_rollup_exact(session_factory)


def _camera_of(session, location_id: int) -> int:
    return session.scalar(select(Camera.id).where(Camera.location_id == location_id).limit(1))


def test_a_time_zone_change_regroups_the_location_days(database_url):
    session_factory = sessions_for(database_url)
    places = seed(session_factory)
    with session_factory.begin() as session:
        update_location(session, places["Europe/Amsterdam"], LocationUpdate(timezone="Asia/Jakarta"))
        update_location(session, places["Asia/Kolkata"], LocationUpdate(name="Kolkata, renamed"))
    with session_factory() as session:
        days = {day for location_id, day in rollup_of(session) if location_id == places["Europe/Amsterdam"]}
        assert days  # regrouped, not emptied
    assert_rollup_exact(session_factory)


def test_prune_drops_older_days_and_recomputes_the_day_it_cuts(database_url):
    session_factory = sessions_for(database_url)
    seed(session_factory, zones=("Europe/Amsterdam", "Asia/Kolkata", "UTC"))
    cutoff = SPRING + timedelta(days=3, hours=9, minutes=30)  # mid-day in every one of these zones
    with session_factory.begin() as session:
        before = rollup_of(session)
        pruned = prune(session, cutoff)
    assert pruned.buckets > 0 and pruned.days > 0
    with session_factory() as session:
        after = rollup_of(session)
        oldest = min(session.scalars(select(BucketCount.bucket_start)))
    assert oldest >= cutoff and len(after) < len(before)
    assert_rollup_exact(session_factory)


def test_the_migration_backfills_the_rollup_from_existing_buckets(database_url):
    from alembic import command

    config = alembic_config(database_url)
    command.downgrade(config, "0001")
    try:
        engine = make_engine(database_url)
        with engine.begin() as connection:
            _insert_raw_history(connection)
    finally:
        command.upgrade(config, "head")
    session_factory = sessions_for(database_url)
    with session_factory() as session:
        assert len(rollup_of(session)) > 10
        # 0003: every face counted before agents existed was one sighting
        pairs = session.execute(select(BucketCount.faces, BucketCount.sightings)).all()
        assert sum(faces for faces, _ in pairs) > 100 and all(faces == seen for faces, seen in pairs)
    assert_rollup_exact(session_factory)


# the two tables as revision 0001 created them (later revisions added columns the models have)
AS_OF_0001 = {
    "locations": table("locations", column("id"), column("name"), column("timezone"),
                       column("created_at", UTCDateTime()), column("updated_at", UTCDateTime())),
    "cameras": table("cameras", column("id"), column("location_id"), column("name"), column("key_hash"),
                     column("key_prefix"), column("created_at", UTCDateTime())),
}
REVISION_0001_COUNTS = ("frames", "faces", "happy", "not_happy", "angry", "disgust", "fear", "neutral", "sad",
                        "surprise")


def _insert_raw_history(connection) -> None:
    """Locations, cameras and buckets as revision 0001 had them: no rollup to write to, no
    sightings (a bare table of 0001's columns: the model's defaults would name later ones)."""
    now, rng = datetime.now(UTC), random.Random(3)
    zones = ("Australia/Sydney", "America/New_York", "UTC")
    connection.execute(insert(AS_OF_0001["locations"]), [
        {"id": n, "name": zone, "timezone": zone, "created_at": now, "updated_at": now} for n, zone in enumerate(zones, 1)])
    connection.execute(insert(AS_OF_0001["cameras"]), [
        {"id": n, "location_id": n, "name": "c", "key_hash": f"{n:064x}", "key_prefix": "p", "created_at": now}
        for n in (1, 2, 3)])
    buckets = {(n, datetime(2026, 3, 30, tzinfo=UTC) + timedelta(minutes=15 * rng.randrange(14 * 96)))
               for n in (1, 2, 3) for _ in range(200)}  # Sydney leaves DST on 5 April
    columns = ("location_id", "camera_id", "bucket_start", *REVISION_0001_COUNTS)
    bucket_table = table("bucket_counts", *(column(name, BucketCount.__table__.c[name].type) for name in columns))
    connection.execute(insert(bucket_table), [
        {"location_id": n, "camera_id": n, "bucket_start": start, **random_counts(rng),
         **dict.fromkeys(("angry", "disgust", "fear", "neutral", "surprise"), 0)} for n, start in buckets])


def test_concurrent_frames_and_zone_changes_never_leave_the_rollup_behind(database_url):
    session_factory = sessions_for(database_url)
    with session_factory.begin() as session:
        location_id, cameras = add_place(session, "busy", "UTC")
    starts = [datetime(2026, 6, 1, 15, tzinfo=UTC) + timedelta(minutes=15 * n) for n in range(16)]

    def post(number: int) -> None:
        with session_factory.begin() as session:
            add_counts(session, location_id, cameras[number % 2], starts[number % 16],
                       {"frames": 1, "faces": 2, "happy": 1, "not_happy": 1})

    def change_zone(number: int) -> None:
        with session_factory.begin() as session:
            zone = ("Asia/Jakarta", "America/New_York", "UTC")[number % 3]
            update_location(session, location_id, LocationUpdate(timezone=zone))

    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(change_zone if n % 25 == 0 else post, n) for n in range(200)]
        for job in jobs:
            job.result()
    with session_factory() as session:
        assert sum(counts["frames"] for counts in rollup_of(session).values()) == 192
    assert_rollup_exact(session_factory)
