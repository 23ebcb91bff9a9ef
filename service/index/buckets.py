"""Calendar arithmetic for the index's time buckets. Counts are stored in fixed UTC buckets;
a query groups them into periods of the location's own calendar, so a 'day' in Asia/Jakarta
runs from 00:00 to 24:00 Jakarta time (17:00 to 17:00 UTC), and DST days last 23 or 25 hours.
All datetimes in and out are aware; outputs are UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from service.db.local_days import local_midnight

Bucket = Literal["15min", "hour", "day", "week", "month"]
SUB_DAY_MINUTES = {"15min": 15, "hour": 60}
MAX_PERIODS = 10_000


def period_start(instant: datetime, bucket: Bucket, zone: ZoneInfo) -> datetime:
    """Start (UTC) of the period that contains `instant`."""
    local = instant.astimezone(zone)
    if bucket in SUB_DAY_MINUTES:
        minutes = SUB_DAY_MINUTES[bucket]
        # replace() keeps `fold`, so the repeated hour at a DST change stays two periods
        floored = local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)
        return floored.astimezone(UTC)
    return local_midnight(_first_day(local.date(), bucket), zone)


def period_end(start: datetime, bucket: Bucket, zone: ZoneInfo) -> datetime:
    """End (UTC, exclusive) of the period that starts at `start`."""
    if bucket in SUB_DAY_MINUTES:
        return start + timedelta(minutes=SUB_DAY_MINUTES[bucket])
    first = start.astimezone(zone).date()
    return local_midnight(_next_first_day(first, bucket), zone)


def periods(start: datetime, end: datetime, bucket: Bucket, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Consecutive periods covering [start, end)."""
    result: list[tuple[datetime, datetime]] = []
    current = period_start(start, bucket, zone)
    while current < end:
        following = period_end(current, bucket, zone)
        result.append((current, following))
        if len(result) > MAX_PERIODS:
            raise ValueError(f"more than {MAX_PERIODS} {bucket} buckets; choose a coarser bucket")
        current = following
    return result


def _first_day(day: date, bucket: Bucket) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next_first_day(first: date, bucket: Bucket) -> date:
    if bucket == "week":
        return first + timedelta(days=7)
    if bucket == "month":
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first + timedelta(days=1)
