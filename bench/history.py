"""Synthetic history for the query benchmark: N locations with one camera each and a count
row in every 15-minute bucket of a span of days, bulk inserted (executemany on SQLite, COPY
on PostgreSQL) so a year of 100 locations (3.5 million rows) loads in a few minutes; then the
daily rollup is filled by the service's own rebuild, as the migration's backfill does.

Faces follow a day/night cycle in the location's own time zone, each location has its own
happy share with a slow drift, so trends and latest days are not all alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from service.db import rollup
from service.db.tables import EMOTIONS, BucketCount, Camera, Location

ZONES = ("UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Asia/Jakarta", "Australia/Sydney")
BUCKET = timedelta(minutes=15)
COLUMNS = ("location_id", "bucket_start", "camera_id", "frames", "faces", "happy", "not_happy",
           *(emotion for emotion in EMOTIONS if emotion != "happy"))


def generate(engine: Engine, locations: int, days: int, end: datetime) -> int:
    """Insert the locations, their cameras and `days` of buckets ending at `end`, and their
    daily rollup; returns the bucket rows."""
    starts = [end - days * timedelta(days=1) + index * BUCKET for index in range(days * 96)]
    _add_locations(engine, locations)
    rows = 0
    for location_id in tqdm(range(1, locations + 1), desc="history", unit="location", disable=None):
        rows += _bulk_insert(engine, list(_bucket_rows(location_id, starts)))
    with Session(engine) as session, session.begin():
        rollup.rebuild_all(session)
    return rows


def _add_locations(engine: Engine, count: int) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Location), [
            {"id": number, "name": f"Synthetic {number:03d}", "timezone": ZONES[number % len(ZONES)],
             "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC)} for number in range(1, count + 1)])
        connection.execute(insert(Camera), [
            {"id": number, "location_id": number, "name": "synthetic", "key_hash": f"{number:064x}",
             "key_prefix": "hcam_synth", "created_at": datetime.now(UTC)} for number in range(1, count + 1)])


def _bucket_rows(location_id: int, starts: list[datetime]) -> Iterator[tuple]:
    rng = np.random.default_rng(location_id)
    zone = ZoneInfo(ZONES[location_id % len(ZONES)])
    hours = np.array([start.astimezone(zone).hour for start in starts[:96 * 8]])  # a week of local hours
    daylight = np.tile(np.clip(np.sin((hours - 6) / 12 * np.pi), 0.05, None), len(starts) // len(hours) + 1)
    faces = rng.poisson(6 * daylight[: len(starts)])
    drift = np.linspace(0, rng.uniform(-0.15, 0.15), len(starts))
    happy = rng.binomial(faces, np.clip(rng.uniform(0.3, 0.6) + drift, 0.05, 0.95))
    others = rng.multinomial(faces - happy, [1 / 6] * 6)
    for index, start in enumerate(starts):
        yield (location_id, start, location_id, 1 + int(faces[index] > 0) * 3, int(faces[index]),
               int(happy[index]), int(faces[index] - happy[index]), *map(int, others[index]))


def _bulk_insert(engine: Engine, rows: list[tuple]) -> int:
    if engine.dialect.name == "postgresql":
        return _copy_postgres(engine, rows)
    table = BucketCount.__table__
    # SQLite compares these as text: the dialect's own processor writes the service's format
    to_text = table.c.bucket_start.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    converted = [(row[0], to_text(row[1]) if to_text else row[1], *row[2:]) for row in rows]
    placeholders = ", ".join("?" * len(COLUMNS))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"INSERT INTO bucket_counts ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                                   converted)
    return len(rows)


def _copy_postgres(engine: Engine, rows: list[tuple]) -> int:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY bucket_counts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    return len(rows)
