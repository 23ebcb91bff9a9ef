"""Reads of the counts, summed over a location's cameras: the stored buckets for 15-minute and
hour periods, the daily rollup for day, week and month periods."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.orm import Session

from service.db.tables import COUNT_COLUMNS, BucketCount, DailyCount

SUMMED = COUNT_COLUMNS


@dataclass(frozen=True)
class StoredBucket:
    location_id: int
    start: datetime
    counts: dict[str, int]


def buckets_between(session: Session, location_ids: list[int], start: datetime,
                    end: datetime) -> list[StoredBucket]:
    """Stored buckets of these locations with start in [start, end), in time order."""
    table = BucketCount.__table__
    query = (
        select(table.c.location_id, table.c.bucket_start, *_sums())
        .where(table.c.location_id.in_(location_ids), table.c.bucket_start >= start, table.c.bucket_start < end)
        .group_by(table.c.location_id, table.c.bucket_start)
        .order_by(table.c.location_id, table.c.bucket_start)
    )
    return [_to_bucket(row) for row in session.execute(query)]


def days_between(session: Session, location_ids: list[int], first: date, end: date,
                 columns: tuple[str, ...] = COUNT_COLUMNS) -> list[Row]:
    """Daily rollup rows (location_id, day, then `columns`) of these locations for the local
    days in [first, end), by location and day: one query for any number of locations."""
    return session.execute(_days_query(location_ids, first, end, columns)).all()  # a row at a time costs twice as much


def days_streamed(session: Session, location_ids: list[int], first: date, end: date,
                  columns: tuple[str, ...] = COUNT_COLUMNS, chunk: int = 2000) -> Iterator[Row]:
    """days_between's rows, fetched a chunk at a time: each row is used and dropped while young.
    A city year is 36,500 rows; held all at once they outlived the cycle collector's young
    generations and woke its full collections (measured: a fifth of the overview's time)."""
    for rows in session.execute(_days_query(location_ids, first, end, columns)).partitions(chunk):
        yield from rows


def _days_query(location_ids: list[int], first: date, end: date, columns: tuple[str, ...]):
    table = DailyCount.__table__
    return (
        select(table.c.location_id, table.c.day, *(table.c[column] for column in columns))
        .where(table.c.location_id.in_(location_ids), table.c.day >= first, table.c.day < end)
        .order_by(table.c.location_id, table.c.day)
    )


def chosen_days(session: Session, days: list[tuple[int, date]]) -> list[Row]:
    """The full rollup rows (location_id, day, every count column) of these (location, day) pairs."""
    if not days:
        return []
    table = DailyCount.__table__
    query = select(table.c.location_id, table.c.day, *(table.c[column] for column in COUNT_COLUMNS)).where(
        tuple_(table.c.location_id, table.c.day).in_(days))
    return session.execute(query).all()


def _sums() -> list:
    table = BucketCount.__table__
    return [func.sum(table.c[column]).label(column) for column in SUMMED]


def _to_bucket(row) -> StoredBucket:
    """By position: a row's _mapping costs more than the rest of the conversion (a year of one
    location's buckets is 35,040 rows)."""
    return StoredBucket(row[0], row[1], dict(zip(SUMMED, map(int, row[2:]))))
