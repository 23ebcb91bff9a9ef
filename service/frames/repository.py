"""Writes of one frame: the receipt (for deduplication) and the count upserts, of the bucket and
of its local day (the daily rollup). All are INSERT ... ON CONFLICT statements, so concurrent
workers and replicas never lose an update. On PostgreSQL a frame's writes are one statement
(one round trip); SQLite, in-process, runs them one by one.

A camera's frame is counted only while the key it came with is still the camera's and is not
revoked, checked in the frame's own transaction: on PostgreSQL the check locks the camera row
(FOR SHARE) until the commit, so a revocation, rotation or deletion waits for frames already
counting and every later frame sees it; on SQLite the write lock, held from BEGIN IMMEDIATE,
orders them the same way. No worker's cache can count a frame after a revocation returned."""

from __future__ import annotations

import enum
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, exists, select, true
from sqlalchemy.orm import Session

from service.db import rollup
from service.db.tables import COUNT_COLUMNS, BucketCount, Camera, FrameReceipt
from service.db.upserts import adding_counts_on_conflict, dialect_insert


class Written(enum.Enum):
    COUNTED = "counted"
    DUPLICATE = "duplicate"  # its frame_id was counted before: nothing added
    KEY_REFUSED = "key_refused"  # the camera's key was revoked, rotated or deleted: nothing added


class Receipt(NamedTuple):
    """What a frame with a frame_id stores so that a repeat is answered and not counted."""
    frame_id: str
    received_at: datetime
    result: dict


def _bound_insert(dialect: str, table, columns: tuple[str, ...], *conditions):
    """INSERT of `columns` with a bound parameter of the same name for each; with `conditions`,
    an INSERT ... SELECT of those parameters that inserts only while the conditions hold."""
    values = {column: bindparam(column, type_=table.c[column].type) for column in columns}
    statement = dialect_insert(dialect, table)
    if not conditions:
        return statement.values(values)
    return statement.from_select(list(values), select(*values.values()).where(*conditions))


def count_frame(session: Session, location_id: int, camera_id: int, bucket_start: datetime,
                counts: dict[str, int], receipt: Receipt | None = None, key_hash: str | None = None) -> Written:
    """Add a frame's `counts` to its bucket and its local day, in the caller's transaction, once
    per frame_id: with a receipt whose frame_id this camera sent before (to anyone), nothing
    is counted (DUPLICATE). With `key_hash`, only while the camera still has that key
    unrevoked (else KEY_REFUSED, nothing written, no receipt claimed)."""
    values = {column: counts.get(column, 0) for column in COUNT_COLUMNS}
    bucket = {"location_id": location_id, "camera_id": camera_id, "bucket_start": bucket_start, **values}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _count_in_one_statement(session, bucket, receipt, key_hash)
    if key_hash is not None and not hold_camera_key(session, camera_id, key_hash):
        return Written.KEY_REFUSED
    if receipt is not None and not claim_frame(session, camera_id, *receipt):
        return Written.DUPLICATE
    session.execute(_upsert_statement(dialect), bucket)
    rollup.add_to_day(session, location_id, bucket_start, values)
    return Written.COUNTED


def add_counts(session: Session, location_id: int, camera_id: int, bucket_start: datetime,
               counts: dict[str, int]) -> None:
    """count_frame without a frame_id or a key to check: always counted."""
    count_frame(session, location_id, camera_id, bucket_start, counts)


def hold_camera_key(session: Session, camera_id: int, key_hash: str) -> bool:
    """True when the camera still has this key, unrevoked; its row then stays so (locked on
    PostgreSQL, SQLite's write lock held) until the caller's transaction ends. For writes of a
    camera's counts other than count_frame's, which checks within its own statement."""
    parameters = {"camera_id": camera_id, "key_hash": key_hash}
    return session.execute(_camera_key_check(), parameters).first() is not None


def _camera_key_check():
    """The camera row while it has the bound key and no revocation, locked FOR SHARE (SQLite
    has no row locks: the clause is left out there)."""
    cameras = Camera.__table__
    return (select(cameras.c.id)
            .where(cameras.c.id == bindparam("camera_id"), cameras.c.key_hash == bindparam("key_hash"),
                   cameras.c.revoked_at.is_(None))
            .with_for_update(read=True))


def claim_frame(session: Session, camera_id: int, frame_id: str, received_at: datetime,
                result: dict) -> bool:
    """Record a frame_id for a camera; False when it was recorded before (by anyone)."""
    parameters = {"camera_id": camera_id, "frame_id": frame_id, "received_at": received_at, "result": result}
    claimed = session.execute(_claim_statement(session.get_bind().dialect.name), parameters)
    return claimed.first() is not None


@lru_cache(maxsize=4)
def _claim_statement(dialect: str):
    """The receipt insert, built once per dialect with bound parameters on the table: the ORM
    insert built per frame cost 110-150 us of CPU per frame."""
    return _claim(dialect)


def _claim(dialect: str, *conditions):
    """Insert the receipt unless its frame_id is there (and while `conditions` hold)."""
    table = FrameReceipt.__table__
    statement = _bound_insert(dialect, table, ("camera_id", "frame_id", "received_at", "result"), *conditions)
    return statement.on_conflict_do_nothing(index_elements=["camera_id", "frame_id"]).returning(table.c.frame_id)


def get_receipt(session: Session, camera_id: int, frame_id: str) -> FrameReceipt | None:
    query = select(FrameReceipt).where(FrameReceipt.camera_id == camera_id,
                                       FrameReceipt.frame_id == frame_id)
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
                            key_hash: str | None) -> Written:
    """count_frame on PostgreSQL: the key check, the claim, the bucket and the day in one round
    trip. When the zone hint the day upsert checked was stale, it wrote nothing; the day is
    added again, in the zone read afresh (rare: after a location's zone changed)."""
    location_id, bucket_start = bucket["location_id"], bucket["bucket_start"]
    parameters = {**bucket, **rollup.day_parameters(session, location_id, bucket_start), "key_hash": key_hash}
    if receipt is not None:
        parameters |= receipt._asdict()
    statement = _one_statement("postgresql", receipt is not None, key_hash is not None)
    key_held, counted, day_added = session.execute(statement, parameters).one()
    if not key_held:
        return Written.KEY_REFUSED
    if counted and not day_added:
        rollup.readd_to_day(session, location_id, bucket_start, {c: bucket[c] for c in COUNT_COLUMNS})
    return Written.COUNTED if counted else Written.DUPLICATE


@lru_cache(maxsize=8)
def _one_statement(dialect: str, claims: bool, checks_key: bool):
    """A frame's writes as CTEs of one SELECT: the camera key check (when `checks_key`, locking
    the camera row), the receipt claim (when `claims`), the bucket upsert, the day upsert; each
    runs only when the one before it held or wrote (a claim that conflicts returns no row, so a
    duplicate counts nothing). Chaining each to the one before makes PostgreSQL run them in
    that order, so row locks are taken as separate statements would take them. Answers
    (key_held, counted, day_added)."""
    gates, key_held = (), true()
    if checks_key:
        camera = _camera_key_check().cte("camera_key")
        gates, key_held = (exists(camera.select()),), exists(camera.select())
    if claims:
        gates = (exists(_claim(dialect, *gates).cte("claim").select()),)
    bucket = _bucket_upsert(dialect, *gates).returning(BucketCount.__table__.c.bucket_start).cte("bucket")
    day = rollup.day_upsert(dialect, exists(bucket.select())).cte("day")
    return select(key_held.label("key_held"), exists(bucket.select()).label("counted"),
                  exists(day.select()).label("day_added"))
