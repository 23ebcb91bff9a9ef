"""Reads of the counts, summed over a location's cameras: the stored buckets for 15-minute and
hour periods, the daily rollup for day, week and month periods."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain

import numpy as np
from sqlalchemy import BigInteger, Row, cast, extract, func, select, tuple_
from sqlalchemy.orm import Session

from service.db.tables import COUNT_COLUMNS, BucketCount, DailyCount

SUMMED = COUNT_COLUMNS


@dataclass(frozen=True)
class StoredCounts:
    """Stored count rows as columns, in (location, start) order: a year of one location's
    15-minute buckets is 35,040 rows, and as Python objects they cost more than the rest of
    the answer (BENCHMARKS.md, section 3)."""

    location_ids: np.ndarray  # int64
    starts: np.ndarray        # int64: UTC seconds since the epoch
    counts: np.ndarray        # int64, one column per SUMMED name

    @classmethod
    def of_rows(cls, rows: list) -> StoredCounts:
        """From rows (location_id, UTC seconds, *counts) of integers. Chained into one array:
        transposing the rows with zip(*rows) cost twice as much as the query itself."""
        width = 2 + len(SUMMED)
        table = np.fromiter(chain.from_iterable(rows), np.int64, len(rows) * width).reshape(len(rows), width)
        return cls(table[:, 0], table[:, 1], table[:, 2:])

    def column(self, name: str) -> np.ndarray:
        return self.counts[:, SUMMED.index(name)]

    def where(self, mask: np.ndarray) -> StoredCounts:
        return StoredCounts(self.location_ids[mask], self.starts[mask], self.counts[mask])

    def between(self, start: datetime, end: datetime) -> StoredCounts:
        """The rows with start in [start, end)."""
        return self.where((self.starts >= start.timestamp()) & (self.starts < end.timestamp()))

    def by_location(self) -> Iterator[tuple[int, StoredCounts]]:
        for location_id in np.unique(self.location_ids):
            yield int(location_id), self.where(self.location_ids == location_id)


def buckets_between(session: Session, location_ids: list[int], start: datetime,
                    end: datetime) -> StoredCounts:
    """Stored buckets of these locations with start in [start, end), summed over cameras, by
    location and time."""
    table = BucketCount.__table__
    seconds = cast(extract("epoch", table.c.bucket_start), BigInteger)  # portable: strftime('%s') on SQLite
    query = (
        select(table.c.location_id, seconds, *_sums())
        .where(table.c.location_id.in_(location_ids), table.c.bucket_start >= start, table.c.bucket_start < end)
        .group_by(table.c.location_id, table.c.bucket_start)
        .order_by(table.c.location_id, table.c.bucket_start)
    )
    return StoredCounts.of_rows(session.execute(query).all())


def days_between(session: Session, location_ids: list[int], first: date, end: date,
                 columns: tuple[str, ...] = COUNT_COLUMNS) -> list[Row]:
    """Daily rollup rows (location_id, day, then `columns`) of these locations for the local
    days in [first, end), by location and day: one query for any number of locations."""
    return session.execute(_days_query(location_ids, first, end, columns)).all()  # a row at a time costs more


def days_streamed(session: Session, location_ids: list[int], first: date, end: date,
                  columns: tuple[str, ...] = COUNT_COLUMNS, chunk: int = 2000) -> Iterator[Row]:
    """days_between's rows, fetched a chunk at a time: each row is used and dropped while young.
    A city year is 36,500 rows; held all at once they outlived the cycle collector's young
    generations and woke its full collections, a large share of the overview's time (BENCHMARKS.md,
    section 3)."""
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
