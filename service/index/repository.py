"""Reads of the count buckets, summed over a location's cameras."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, case, cast, extract, func, literal, select
from sqlalchemy.orm import Session

from service.db.tables import EMOTIONS, BucketCount

SUMMED = ("frames", "faces", "happy", "not_happy", *[e for e in EMOTIONS if e != "happy"])
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class StoredBucket:
    location_id: int
    start: datetime
    counts: dict[str, int]


@dataclass(frozen=True)
class OffsetSegment:
    """From `start` on (UTC), until the next segment, the zone is `offset_seconds` ahead of UTC."""

    start: datetime
    offset_seconds: int


def buckets_between(session: Session, location_ids: list[int], start: datetime,
                    end: datetime) -> list[StoredBucket]:
    """Stored buckets of these locations with start in [start, end), in time order."""
    table = BucketCount.__table__
    query = (
        select(table.c.location_id, table.c.bucket_start, *_sums())
        .where(*_within(location_ids, start, end))
        .group_by(table.c.location_id, table.c.bucket_start)
        .order_by(table.c.location_id, table.c.bucket_start)
    )
    return [_to_bucket(row) for row in session.execute(query)]


def local_days_between(session: Session, location_ids: list[int], segments: list[OffsetSegment],
                       start: datetime, end: datetime) -> list[StoredBucket]:
    """Like buckets_between, but summed by the local calendar day of each bucket in the database,
    for locations sharing one zone whose UTC offsets over [start, end) are `segments`. Each row's
    start is its earliest bucket, so it falls in the same day (or week, month) period as all of
    them. A year of 15-minute buckets becomes 365 rows instead of 35,040."""
    table = BucketCount.__table__
    day = ((_epoch_seconds(session) + _offset_at(segments)) // SECONDS_PER_DAY).label("local_day")
    query = (
        select(table.c.location_id, func.min(table.c.bucket_start).label("bucket_start"), *_sums())
        .where(*_within(location_ids, start, end))
        .group_by(table.c.location_id, day)
        .order_by(table.c.location_id, "bucket_start")
    )
    return [_to_bucket(row) for row in session.execute(query)]


def _sums() -> list:
    table = BucketCount.__table__
    return [func.sum(table.c[column]).label(column) for column in SUMMED]


def _within(location_ids: list[int], start: datetime, end: datetime) -> tuple:
    table = BucketCount.__table__
    return (table.c.location_id.in_(location_ids), table.c.bucket_start >= start, table.c.bucket_start < end)


def _epoch_seconds(session: Session):
    """Seconds since 1970 (UTC) of a bucket's start, as an integer, in either dialect."""
    column = BucketCount.__table__.c.bucket_start
    if session.get_bind().dialect.name == "postgresql":
        return cast(extract("epoch", column), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)  # SQLite keeps UTC text; %s reads it as UTC


def _offset_at(segments: list[OffsetSegment]):
    """The zone's offset at each bucket: one CASE branch per DST change in the range."""
    column = BucketCount.__table__.c.bucket_start
    if len(segments) == 1:
        return literal(segments[0].offset_seconds)
    branches = [(column < later.start, earlier.offset_seconds) for earlier, later in zip(segments, segments[1:])]
    return case(*branches, else_=segments[-1].offset_seconds)


def _to_bucket(row) -> StoredBucket:
    mapping = row._mapping
    return StoredBucket(mapping["location_id"], mapping["bucket_start"],
                        {column: int(mapping[column]) for column in SUMMED})
