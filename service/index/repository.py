"""Reads of the count buckets, summed over a location's cameras."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.tables import EMOTIONS, BucketCount

SUMMED = ("frames", "faces", "happy", "not_happy", *[e for e in EMOTIONS if e != "happy"])


@dataclass(frozen=True)
class StoredBucket:
    location_id: int
    start: datetime
    counts: dict[str, int]


def buckets_between(session: Session, location_ids: list[int], start: datetime,
                    end: datetime) -> list[StoredBucket]:
    """Stored buckets of these locations with start in [start, end), in time order."""
    table = BucketCount.__table__
    sums = [func.sum(table.c[column]).label(column) for column in SUMMED]
    query = (
        select(table.c.location_id, table.c.bucket_start, *sums)
        .where(table.c.location_id.in_(location_ids), table.c.bucket_start >= start,
               table.c.bucket_start < end)
        .group_by(table.c.location_id, table.c.bucket_start)
        .order_by(table.c.location_id, table.c.bucket_start)
    )
    return [_to_bucket(row) for row in session.execute(query)]


def _to_bucket(row) -> StoredBucket:
    return StoredBucket(row.location_id, row.bucket_start, {column: int(getattr(row, column)) for column in SUMMED})
