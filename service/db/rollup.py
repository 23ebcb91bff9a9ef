"""Keeping daily_counts equal to bucket_counts summed over cameras by the location's local day.
Every change to the buckets changes the rollup in the same transaction, so it cannot drift:

- a frame's counts: add_to_day, one more upsert beside the bucket upsert (on PostgreSQL,
  day_upsert in the frame's one statement, and add_to_day only when its zone was stale);
- a location's new time zone: rebuild_location recomputes its days from its buckets;
- retention: prune_days drops the days before the cutoff and recomputes the day it cuts.

Concurrency on PostgreSQL (SQLite runs one writer at a time): a frame's day comes from the zone
this app last saw for the location (a hint kept per session factory, see zone_hints), and its
upsert writes only while the location still has that zone; otherwise it reads the zone afresh
and retries. A zone change and the prune lock
daily_counts against other writers before they recompute days, so a frame either committed
before (and is recomputed with the rest) or waits, then sees the new zone and retries."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, delete, func, insert, select, text
from sqlalchemy.sql import column as bare_column
from sqlalchemy.sql import table as bare_table
from sqlalchemy.orm import Session

from service.db.engine import factory_shared
from service.db.local_days import local_day, local_midnight, sum_by_local_day
from service.db.tables import COUNT_COLUMNS, BucketCount, DailyCount, Location
from service.db.upserts import adding_counts_on_conflict, dialect_insert

MAX_ZONE_RETRIES = 3


def zone_hints(session: Session) -> dict[int, str]:
    """location id -> the time zone last read for it by a session of this session's factory;
    only a hint, see add_to_day."""
    return factory_shared(session).setdefault("zone_hints", {})


def add_to_day(session: Session, location_id: int, bucket_start: datetime, values: dict[str, int]) -> None:
    """Add one bucket change (`values`, every count column) to its local day. The zone is a
    remembered hint, so a frame costs one statement; the upsert checks the hint against the
    location row and writes nothing when it is stale, and then the zone is read again."""
    zone = zone_hints(session).get(location_id)
    for _ in range(MAX_ZONE_RETRIES):
        if zone is not None and _upsert_day(session, location_id, zone, bucket_start, values):
            return
        zone = _reread_zone(session, location_id)
    raise _no_zone(location_id)


def readd_to_day(session: Session, location_id: int, bucket_start: datetime, values: dict[str, int]) -> None:
    """add_to_day after a day upsert (day_upsert's, in a caller's statement) wrote nothing
    because the zone hint was stale: the zone is read first, not tried once more."""
    zone_hints(session).pop(location_id, None)
    add_to_day(session, location_id, bucket_start, values)


def day_parameters(session: Session, location_id: int, bucket_start: datetime) -> dict:
    """The zone and the local day that day_upsert's statement checks and writes, for a bucket:
    the zone is the hint, read from the location only when there is none yet."""
    zone = zone_hints(session).get(location_id) or _reread_zone(session, location_id)
    if zone is None:
        raise _no_zone(location_id)
    return _day_in(zone, bucket_start)


def _day_in(zone: str, bucket_start: datetime) -> dict:
    return {"timezone": zone, "day": local_day(bucket_start, ZoneInfo(zone))}


def _upsert_day(session: Session, location_id: int, zone: str, bucket_start: datetime,
                values: dict[str, int]) -> bool:
    parameters = {"location_id": location_id, **_day_in(zone, bucket_start), **values}
    dialect = session.get_bind().dialect.name
    return session.execute(_day_upsert_statement(dialect), parameters).first() is not None


@lru_cache(maxsize=4)
def _day_upsert_statement(dialect: str):
    """day_upsert on its own, built once per dialect."""
    return day_upsert(dialect)


def day_upsert(dialect: str, *conditions):
    """INSERT ... SELECT from the location row while it has the expected zone (and `conditions`
    hold), adding to the day's row when present; RETURNING tells whether it wrote. Bound
    parameters: location_id, timezone, day (day_parameters) and every count column."""
    table, locations = DailyCount.__table__, Location.__table__
    source = select(locations.c.id, bindparam("day", type_=Date()),
                    *(bindparam(column, type_=table.c[column].type) for column in COUNT_COLUMNS)).where(
        locations.c.id == bindparam("location_id"), locations.c.timezone == bindparam("timezone"),
        *conditions)
    statement = dialect_insert(dialect, table).from_select(["location_id", "day", *COUNT_COLUMNS], source)
    return adding_counts_on_conflict(statement, table, ["location_id", "day"]).returning(table.c.day)


def _reread_zone(session: Session, location_id: int) -> str | None:
    """The location's zone, read now and remembered as its hint."""
    zone = zone_hints(session)[location_id] = _zone_of(session, location_id)
    return zone


def _no_zone(location_id: int) -> RuntimeError:
    return RuntimeError(f"location {location_id} has no time zone to count a day in (deleted?)")


def _zone_of(session: Session, location_id: int) -> str | None:
    return session.scalar(select(Location.timezone).where(Location.id == location_id))


def rebuild_location(session: Session, location_id: int, timezone: str,
                     columns: tuple[str, ...] = COUNT_COLUMNS) -> None:
    """Recompute a location's days from all its buckets, in `timezone` (its zone from now on).
    `columns`: the count columns the schema has (a migration passes those of its revision)."""
    lock_rollup(session)
    session.execute(delete(DailyCount).where(DailyCount.location_id == location_id))
    first, last = session.execute(select(func.min(BucketCount.bucket_start), func.max(BucketCount.bucket_start))
                                  .where(BucketCount.location_id == location_id)).one()
    if first is not None:
        _insert_days(session, [location_id], ZoneInfo(timezone), first, last + timedelta(seconds=1), columns)


def rebuild_all(session: Session, columns: tuple[str, ...] = COUNT_COLUMNS) -> None:
    """Recompute every location's days (the migration's backfill, the benchmark's load), one
    location at a time so no query holds more than a location's buckets."""
    locations = session.execute(select(Location.id, Location.timezone).order_by(Location.id)).all()
    for location_id, timezone in locations:
        rebuild_location(session, location_id, timezone, columns)


def prune_days(session: Session, cutoff: datetime) -> int:
    """After the buckets that start before `cutoff` were deleted: delete the days wholly before
    it and recompute the day it falls in, per time zone. Returns the day rows deleted."""
    lock_rollup(session)
    deleted = 0
    for timezone, location_ids in _locations_by_zone(session).items():
        zone = ZoneInfo(timezone)
        cut_day = local_day(cutoff, zone)
        deleted += session.execute(delete(DailyCount).where(
            DailyCount.location_id.in_(location_ids), DailyCount.day <= cut_day)).rowcount
        _insert_days(session, location_ids, zone, local_midnight(cut_day, zone),
                     local_midnight(cut_day + timedelta(days=1), zone))
    return deleted


def _locations_by_zone(session: Session) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for location_id, timezone in session.execute(select(Location.id, Location.timezone)):
        grouped.setdefault(timezone, []).append(location_id)
    return grouped


def _insert_days(session: Session, location_ids: list[int], zone: ZoneInfo, start: datetime,
                 end: datetime, columns: tuple[str, ...] = COUNT_COLUMNS) -> None:
    """Insert the sums of the buckets in [start, end) by local day; their rows must be gone.
    The insert names `columns` only (a bare table clause: the model's column defaults would
    add columns that an older revision's schema lacks)."""
    days = sum_by_local_day(session, location_ids, zone, start, end, columns)
    if days:
        daily = bare_table("daily_counts", bare_column("location_id"), bare_column("day"), *map(bare_column, columns))
        session.execute(insert(daily), [{"location_id": d.location_id, "day": d.day, **d.counts} for d in days])


def lock_rollup(session: Session) -> None:
    """PostgreSQL: wait for the transactions writing daily_counts to end, and hold off new ones
    until this one ends (SHARE ROW EXCLUSIVE conflicts with their ROW EXCLUSIVE and itself).
    SQLite needs nothing: its writers take turns (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE daily_counts IN SHARE ROW EXCLUSIVE MODE"))
