"""Pause intervals, and the one SQL condition that says whether a camera may count a frame now:
its location's setting is permitted, neither it nor its location is paused, and the frame was
not captured inside an earlier pause."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, delete, exists, or_, select
from sqlalchemy.orm import Session

from service.db.tables import Camera, Location, Pause
from service.db.types import UTCDateTime
from service.locations.schemas import PROHIBITED_SETTINGS


def add(session: Session, pause: Pause) -> Pause:
    session.add(pause)
    session.flush()
    return pause


def open_pause(session: Session, location_id: int, camera_id: int | None) -> Pause | None:
    camera = Pause.camera_id.is_(None) if camera_id is None else Pause.camera_id == camera_id
    query = select(Pause).where(Pause.location_id == location_id, camera, Pause.ended_at.is_(None))
    return session.scalars(query.order_by(Pause.id.desc())).first()


def _covering(start, end=None):
    """SELECT of the id of an ended pause of the camera's location, or of the camera itself,
    that the instant `start` falls in, or (given `end`) that overlaps [start, end); `start` and
    `end` are values or bound parameters, and the camera is the outer query's cameras row."""
    pauses, cameras = Pause.__table__, Camera.__table__
    begins_before = pauses.c.started_at <= start if end is None else pauses.c.started_at < end
    return (select(pauses.c.id)
            .where(pauses.c.location_id == cameras.c.location_id,
                   or_(pauses.c.camera_id.is_(None), pauses.c.camera_id == cameras.c.id),
                   begins_before, pauses.c.ended_at > start)
            .limit(1))


def state_columns(start, end=None) -> list:
    """The columns that decide whether a camera may count what it saw at `start` (or in
    [start, end)), for a SELECT from cameras joined to their locations."""
    cameras, locations = Camera.__table__, Location.__table__
    return [locations.c.setting, locations.c.paused_since.label("location_paused_since"),
            cameras.c.paused_since.label("camera_paused_since"),
            _covering(start, end).scalar_subquery().label("earlier_pause_id")]


def camera_and_location():
    cameras, locations = Camera.__table__, Location.__table__
    return cameras.join(locations, locations.c.id == cameras.c.location_id)


def counting_state(session: Session, camera_id: int, start: datetime, end: datetime | None = None):
    """state_columns of the camera (a row), or None when it does not exist."""
    query = select(*state_columns(start, end)).select_from(camera_and_location()).where(
        Camera.__table__.c.id == camera_id)
    return session.execute(query).first()


def counting_rows(camera_id: int):
    """SELECT of the camera's and its location's rows FOR SHARE (see service.lock_for_counting)."""
    cameras = Camera.__table__
    return (select(cameras.c.id).select_from(camera_and_location())
            .where(cameras.c.id == camera_id).with_for_update(read=True))


def overlapping(session: Session, location_id: int, start: datetime, end: datetime,
                location_only: bool = False) -> list[Pause]:
    """Pauses of the location (and of its cameras, unless `location_only`) that overlap
    [start, end), in time order; an open pause lasts until now and beyond."""
    query = select(Pause).where(Pause.location_id == location_id, Pause.started_at < end,
                                or_(Pause.ended_at.is_(None), Pause.ended_at > start))
    if location_only:
        query = query.where(Pause.camera_id.is_(None))
    return list(session.scalars(query.order_by(Pause.started_at, Pause.id)))


def prune(session: Session, cutoff: datetime) -> int:
    """Pauses that ended before the counts' retention cutoff: the gap they explain is gone."""
    return session.execute(delete(Pause).where(Pause.ended_at < cutoff)).rowcount


@lru_cache(maxsize=1)
def counting_allowed():
    """SQL, true when camera :camera_id may count a frame captured at :captured_at. On
    PostgreSQL it locks the camera's and the location's rows (FOR SHARE) until the frame's
    transaction ends: a pause or a setting change updates one of those rows, so it waits for
    frames already being written, and a frame written after it sees it (PostgreSQL re-reads a
    locked row that changed meanwhile). SQLite runs one writer at a time and ignores the lock."""
    cameras, locations = Camera.__table__, Location.__table__
    captured_at = bindparam("captured_at", type_=UTCDateTime())
    open_camera = (
        select(cameras.c.id).select_from(camera_and_location())
        .where(cameras.c.id == bindparam("camera_id"), cameras.c.paused_since.is_(None),
               locations.c.paused_since.is_(None), locations.c.setting.not_in(PROHIBITED_SETTINGS),
               ~exists(_covering(captured_at)))
        .with_for_update(read=True)
    )
    return exists(open_camera)
