"""Count buckets summed by the local calendar day of their start, in the database, on SQLite
(which has no time-zone functions) as on PostgreSQL. The zone's UTC offsets over the range are
found in Python with zoneinfo, one segment per offset, and the query adds the offset in force
to each bucket's epoch seconds: one CASE branch per daylight-saving change. So a day here is
exactly the day zoneinfo gives the bucket's start (local_day), as everywhere else."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, case, cast, extract, func, literal, select
from sqlalchemy.orm import Session

from service.db.tables import COUNT_COLUMNS, BucketCount

SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class LocationDay:
    """The counts of one location on one local day."""

    location_id: int
    day: date
    counts: dict[str, int]


@dataclass(frozen=True)
class OffsetSegment:
    """From `start` on (UTC), until the next segment, the zone is `offset_seconds` ahead of UTC."""

    start: datetime
    offset_seconds: int


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar day that `instant` falls on in `zone`."""
    return instant.astimezone(zone).date()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) that `day` begins in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def sum_by_local_day(session: Session, location_ids: list[int], zone: ZoneInfo, start: datetime,
                     end: datetime, columns: tuple[str, ...] = COUNT_COLUMNS) -> list[LocationDay]:
    """The buckets of these locations (all in `zone`) that start in [start, end), summed over
    cameras by local day, for the count `columns`: a year of 15-minute buckets comes back as
    365 rows, not 35,040."""
    table = BucketCount.__table__
    segments = offset_segments(start, end, zone)
    day_number = (_epoch_seconds(session) + _offset_at(segments)) // SECONDS_PER_DAY
    query = (
        select(table.c.location_id, func.min(table.c.bucket_start).label("first_start"),
               *(func.sum(table.c[column]).label(column) for column in columns))
        .where(table.c.location_id.in_(location_ids), table.c.bucket_start >= start, table.c.bucket_start < end)
        .group_by(table.c.location_id, day_number)
    )
    return [LocationDay(row.location_id, local_day(row.first_start, zone),
                        {column: int(row._mapping[column]) for column in columns})
            for row in session.execute(query)]


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


def offset_segments(start: datetime, end: datetime, zone: ZoneInfo) -> list[OffsetSegment]:
    """The zone's UTC offsets over [start, end), one segment per offset. Offsets are compared a
    day apart (zones change a few times a year at most) and each change is then found to the
    second by bisection; the scan goes on from the change, so two changes in a day are found
    too, unless the second one restores the offset of the first."""
    segments = [OffsetSegment(start, _offset(start, zone))]
    moment = start
    while moment < end:
        following = min(moment + timedelta(days=1), end)
        if _offset(following, zone) == segments[-1].offset_seconds:
            moment = following
            continue
        moment = _first_change(moment, following, zone)
        segments.append(OffsetSegment(moment, _offset(moment, zone)))
    return segments


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    return int(instant.astimezone(zone).utcoffset().total_seconds())


def _first_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second after `before` whose offset differs from before's; `after`'s does."""
    offset = _offset(before, zone)
    unchanged, changed = 0, math.ceil((after - before).total_seconds())
    while changed - unchanged > 1:
        middle = (unchanged + changed) // 2
        if _offset(before + timedelta(seconds=middle), zone) == offset:
            unchanged = middle
        else:
            changed = middle
    return before + timedelta(seconds=changed)
