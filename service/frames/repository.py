"""Writes of one frame: the admission check (setting and pauses), the receipt (for
deduplication) and the count upserts, of the bucket and of its local day (the daily rollup). All are INSERT ... ON CONFLICT statements, so concurrent
workers and replicas never lose an update. On PostgreSQL a frame's writes are one statement
(one round trip); SQLite, in-process, runs them one by one.

A camera's frame is counted only while the key it came with is still the camera's and is not
revoked, checked in the frame's own transaction: on PostgreSQL the check locks the camera row
(FOR SHARE) until the commit, so a revocation, rotation or deletion waits for frames already
counting and every later frame sees it; on SQLite the write lock, held from BEGIN IMMEDIATE,
orders them the same way. No worker's cache can count a frame after a revocation returned. The
admission check (pauses.repository.counting_allowed) locks the camera's and its location's rows
the same way, so a pause or a setting change is ordered against frames as a revocation is."""

from __future__ import annotations

import enum
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Row, and_, bindparam, exists, null, select, true
from sqlalchemy.orm import Session

from service.db import rollup
from service.db.tables import COUNT_COLUMNS, BucketCount, Camera, FrameReceipt
from service.db.upserts import adding_counts_on_conflict, dialect_insert
from service.pauses.repository import camera_and_location, counting_allowed, state_columns


class Written(enum.Enum):
    COUNTED = "counted"
    # nothing added: its frame_id was counted within the window, or the admission check refused
    # it (a pause, a prohibited setting); the caller tells which
    NOT_COUNTED = "not_counted"
    KEY_REFUSED = "key_refused"  # the camera's key was revoked, rotated or deleted: nothing added


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
                counts: dict[str, int], receipt: Receipt | None = None, key_hash: str | None = None,
                captured_at: datetime | None = None) -> Written:
    """Add a frame's `counts` to its bucket and its local day, in the caller's transaction, once
    per frame_id: with a receipt whose frame_id this camera sent within the window (to anyone),
    nothing is counted (NOT_COUNTED). With `key_hash`, only while the camera still has that key
    unrevoked (else KEY_REFUSED, nothing written, no receipt claimed); with `captured_at`, only
    while the camera may count a frame captured then (else NOT_COUNTED)."""
    values = {column: counts.get(column, 0) for column in COUNT_COLUMNS}
    bucket = {"location_id": location_id, "camera_id": camera_id, "bucket_start": bucket_start, **values}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _count_in_one_statement(session, bucket, receipt, key_hash, captured_at)
    if key_hash is not None and not hold_camera_key(session, camera_id, key_hash):
        return Written.KEY_REFUSED
    if captured_at is not None and not admitted(session, camera_id, captured_at):
        return Written.NOT_COUNTED
    if receipt is not None and not claim_frame(session, camera_id, *receipt):
        return Written.NOT_COUNTED
    session.execute(_upsert_statement(dialect), bucket)
    rollup.add_to_day(session, location_id, bucket_start, values)
    return Written.COUNTED


def add_counts(session: Session, location_id: int, camera_id: int, bucket_start: datetime,
               counts: dict[str, int]) -> None:
    """count_frame without a frame_id, a key or an admission to check: always counted (seeding,
    tests)."""
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


def admission(session: Session, camera_id: int, key_hash: str | None, frame_id: str | None,
              captured_at: datetime, now: datetime) -> Row | None:
    """What decides a frame before its analysis, in one read: `key_ok` (the camera still has
    this key, unrevoked), `first_received_at` (of a live receipt of this frame_id) and
    pauses.repository.state_columns; None when the camera is gone."""
    parameters = {"camera_id": camera_id, "key_hash": key_hash, "frame_id": frame_id, "captured_at": captured_at,
                  "now": now}
    return session.execute(_admission_read(key_hash is not None, frame_id is not None), parameters).first()


@lru_cache(maxsize=4)
def _admission_read(checks_key: bool, has_frame_id: bool):
    cameras, receipts = Camera.__table__, FrameReceipt.__table__
    key_ok = (and_(cameras.c.key_hash == bindparam("key_hash"), cameras.c.revoked_at.is_(None)) if checks_key
              else true())
    first = null()
    if has_frame_id:
        first = (select(receipts.c.received_at)
                 .where(receipts.c.camera_id == cameras.c.id, receipts.c.frame_id == bindparam("frame_id"),
                        receipts.c.expires_at > bindparam("now", type_=receipts.c.expires_at.type))
                 .scalar_subquery())
    captured_at = bindparam("captured_at", type_=cameras.c.paused_since.type)
    return (select(key_ok.label("key_ok"), first.label("first_received_at"), *state_columns(captured_at))
            .select_from(camera_and_location()).where(cameras.c.id == bindparam("camera_id")))


def admitted(session: Session, camera_id: int, captured_at: datetime) -> bool:
    """Whether the camera may count a frame captured then (pauses.repository.counting_allowed),
    for writes whose statements do not check it themselves."""
    return bool(session.scalar(_admission_statement(), {"camera_id": camera_id, "captured_at": captured_at}))


@lru_cache(maxsize=1)
def _admission_statement():
    return select(counting_allowed())


def claim_frame(session: Session, camera_id: int, frame_id: str, received_at: datetime,
                expires_at: datetime) -> bool:
    """Record a frame_id for a camera until `expires_at`; False when it is recorded already and
    not expired (by anyone). An expired receipt is taken over as if it were absent."""
    parameters = {"camera_id": camera_id, "frame_id": frame_id, "received_at": received_at,
                  "expires_at": expires_at}
    claimed = session.execute(_claim_statement(session.get_bind().dialect.name), parameters)
    return claimed.first() is not None


@lru_cache(maxsize=4)
def _claim_statement(dialect: str):
    """The receipt insert, built once per dialect with bound parameters on the table: an ORM
    insert built anew for every frame cost CPU on every frame (BENCHMARKS.md, section 2)."""
    return _claim(dialect)


def _claim(dialect: str, *conditions):
    """Insert the receipt unless its frame_id is there and live (and while `conditions` hold):
    an expired receipt is overwritten (and the frame counts), a live one returns nothing."""
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
                            key_hash: str | None, captured_at: datetime | None) -> Written:
    """count_frame on PostgreSQL: the key check, the admission check, the claim, the bucket and
    the day in one round trip. When the zone hint the day upsert checked was stale, it wrote nothing; the day is
    added again, in the zone read afresh (rare: after a location's zone changed)."""
    location_id, bucket_start = bucket["location_id"], bucket["bucket_start"]
    parameters = {**bucket, **rollup.day_parameters(session, location_id, bucket_start), "key_hash": key_hash}
    if receipt is not None:
        parameters |= receipt._asdict()
    if captured_at is not None:
        parameters["captured_at"] = captured_at
    statement = _one_statement("postgresql", receipt is not None, key_hash is not None, captured_at is not None)
    key_held, counted, day_added = session.execute(statement, parameters).one()
    if not key_held:
        return Written.KEY_REFUSED
    if counted and not day_added:
        rollup.readd_to_day(session, location_id, bucket_start, {c: bucket[c] for c in COUNT_COLUMNS})
    return Written.COUNTED if counted else Written.NOT_COUNTED


@lru_cache(maxsize=8)
def _one_statement(dialect: str, claims: bool, checks_key: bool, admits: bool):
    """A frame's writes as CTEs of one SELECT: the camera key check (when `checks_key`, locking
    the camera row), the admission check (when `admits`, locking the camera's and location's
    rows), the receipt claim (when `claims`), the bucket upsert, the day upsert; each runs only
    when the ones before it held or wrote (a claim that conflicts returns no row, so a duplicate
    counts nothing). Chaining each to the one before makes PostgreSQL run them in that order, so
    row locks are taken as separate statements would take them. Answers (key_held, counted,
    day_added)."""
    gates, key_held = (), true()
    if checks_key:
        camera = _camera_key_check().cte("camera_key")
        gates, key_held = (exists(camera.select()),), exists(camera.select())
    if admits:
        gates = (*gates, counting_allowed())
    if claims:
        gates = (exists(_claim(dialect, *gates).cte("claim").select()),)
    bucket = _bucket_upsert(dialect, *gates).returning(BucketCount.__table__.c.bucket_start).cte("bucket")
    day = rollup.day_upsert(dialect, exists(bucket.select())).cte("day")
    return select(key_held.label("key_held"), exists(bucket.select()).label("counted"),
                  exists(day.select()).label("day_added"))
