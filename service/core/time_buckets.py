"""The stored time buckets: an instant's bucket starts at a whole multiple of the bucket width
since the epoch (UTC), on the server and on the edge agent alike."""

from __future__ import annotations

from datetime import UTC, datetime


def bucket_start_of(instant: datetime, bucket_minutes: int) -> datetime:
    width = bucket_minutes * 60
    seconds = int(instant.timestamp()) // width * width
    return datetime.fromtimestamp(seconds, UTC)
