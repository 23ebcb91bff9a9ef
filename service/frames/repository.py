"""Writes of one frame: the admission check (setting and pauses), the receipt (for
deduplication) and the count upserts, of the bucket and of its local day (the daily rollup).
All are INSERT ... ON CONFLICT statements, so concurrent workers and replicas never lose an
update. On PostgreSQL a frame's writes are one statement (one round trip); SQLite, in-process,
runs them one by one."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from service.db import rollup
from service.db.tables import COUNT_COLUMNS, BucketCount, FrameReceipt
from service.db.upserts import adding_counts_on_conflict, dialect_insert
from service.pauses.repository import counting_allowed


class Receipt(NamedTuple):
    """What a frame with a frame_id stores so that a repeat is answered and not counted: no
    counts, only that it was counted, when, and until when that is remembered."""
    frame_id: str
    received_at: datetime
    expires_at: datetime


def _bound_insert(dialect: str, table, columns: tuple[str, ...], *conditions):
    """INSERT of `columns` with a bound parameter of the same name for each; with `conditions`,
    an INSERT ... SELECT of those parameters that inserts only while the conditions hold."""
    values = {column: bindparam(column, type_=table.c[column].type) for column in columns}
    statement = dialect_insert(dialect, table)
    if not conditions:
        return statement.values(values)
    return statement.from_select(list(values), select(*values.values()).where(*conditions))


def count_frame(session: Session, location_id: int, camera_id: int, bucket_start: datetime,
                counts: dict[str, int], receipt: Receipt | None = None,
                captured_at: datetime | None = None) -> bool:
    """Add a frame's `counts` to its bucket and its local day, in the caller's transaction, once
    per frame_id. The answer is False, and nothing is counted, when the receipt's frame_id was
    counted before by this camera and has not expired, or, given `captured_at`, when the camera
    may not count a frame captured then (pauses.repository.counting_allowed)."""
    values = {column: counts.get(column, 0) for column in COUNT_COLUMNS}
    bucket = {"location_id": location_id, "camera_id": camera_id, "bucket_start": bucket_start, **values}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _count_in_one_statement(session, bucket, receipt, captured_at)
    if captured_at is not None and not session.scalar(_admission_statement(),
                                                      {"camera_id": camera_id, "captured_at": captured_at}):
        return False
    if receipt is not None and not claim_frame(session, camera_id, *receipt):
        return False
    session.execute(_upsert_statement(dialect), bucket)
    rollup.add_to_day(session, location_id, bucket_start, values)
    return True


def add_counts(session: Session, location_id: int, camera_id: int, bucket_start: datetime,
               counts: dict[str, int]) -> None:
    """count_frame without a frame_id or an admission check: always counted (seeding, tests)."""
    count_frame(session, location_id, camera_id, bucket_start, counts)


def claim_frame(session: Session, camera_id: int, frame_id: str, received_at: datetime,
                expires_at: datetime) -> bool:
    """Record a frame_id for a camera until `expires_at`; False when it is recorded already and
    not expired (by anyone). An expired receipt is taken over as if it were absent."""
    parameters = {"camera_id": camera_id, "frame_id": frame_id, "received_at": received_at,
                  "expires_at": expires_at}
    claimed = session.execute(_claim_statement(session.get_bind().dialect.name), parameters)
    return claimed.first() is not None


@lru_cache(maxsize=1)
def _admission_statement():
    return select(counting_allowed())


@lru_cache(maxsize=8)
def _claim_statement(dialect: str, *conditions):
    """The receipt insert, built once per dialect with bound parameters on the table: the ORM
    insert built per frame cost 110-150 us of CPU per frame. On a conflict with an expired
    receipt it overwrites it (and counts); with a live one it writes and returns nothing."""
    table = FrameReceipt.__table__
    statement = _bound_insert(dialect, table, ("camera_id", "frame_id", "received_at", "expires_at"), *conditions)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["camera_id", "frame_id"],
        set_={"received_at": excluded.received_at, "expires_at": excluded.expires_at},
        where=table.c.expires_at <= excluded.received_at,
    ).returning(table.c.frame_id)


def live_receipt(session: Session, camera_id: int, frame_id: str, now: datetime) -> FrameReceipt | None:
    """The camera's receipt of this frame_id unless it expired by `now`."""
    query = select(FrameReceipt).where(FrameReceipt.camera_id == camera_id, FrameReceipt.frame_id == frame_id,
                                       FrameReceipt.expires_at > now)
    return session.scalars(query).first()


@lru_cache(maxsize=4)
def _upsert_statement(dialect: str):
    """The count upsert, built once per dialect with bound parameters: building the
    expression anew for every frame was a tenth of a frame's server time."""
    return _bucket_upsert(dialect)


def _bucket_upsert(dialect: str, *conditions):
    """Insert the bucket row, or add to it if present (while `conditions` hold)."""
    table = BucketCount.__table__
    statement = _bound_insert(dialect, table, ("location_id", "camera_id", "bucket_start", *COUNT_COLUMNS),
                              *conditions)
    return adding_counts_on_conflict(statement, table, ["location_id", "bucket_start", "camera_id"])


def _count_in_one_statement(session: Session, bucket: dict, receipt: Receipt | None,
                            captured_at: datetime | None) -> bool:
    """count_frame on PostgreSQL: the admission check, the claim, the bucket and the day in one
    round trip. When the zone hint the day upsert checked was stale, it wrote nothing; the day
    is added again, in the zone read afresh (rare: after a location's zone changed)."""
    location_id, bucket_start = bucket["location_id"], bucket["bucket_start"]
    parameters = {**bucket, **rollup.day_parameters(session, location_id, bucket_start)}
    if receipt is not None:
        parameters |= receipt._asdict()
    if captured_at is not None:
        parameters["captured_at"] = captured_at
    statement = _one_statement("postgresql", receipt is not None, captured_at is not None)
    counted, day_added = session.execute(statement, parameters).one()
    if counted and not day_added:
        rollup.readd_to_day(session, location_id, bucket_start, {c: bucket[c] for c in COUNT_COLUMNS})
    return counted


@lru_cache(maxsize=8)
def _one_statement(dialect: str, claims: bool, admits: bool):
    """A frame's writes as data-modifying CTEs of one SELECT: the receipt claim (when `claims`),
    the bucket upsert, the day upsert; each runs only when the one before it wrote (a claim
    that conflicts returns no row, so a duplicate counts nothing), and the first only when
    the camera may count the frame (when `admits`). Chaining the day to the bucket, not both
    to the claim, makes PostgreSQL run them in that order, so row locks are taken as the
    separate statements took them. Answers (counted, day_added)."""
    gates = (counting_allowed(),) if admits else ()
    if claims:
        gates = (exists(_claim_statement(dialect, *gates).cte("claim").select()),)
    bucket = _bucket_upsert(dialect, *gates).returning(BucketCount.__table__.c.bucket_start).cte("bucket")
    day = rollup.day_upsert(dialect, exists(bucket.select())).cte("day")
    return select(exists(bucket.select()).label("counted"), exists(day.select()).label("day_added"))
