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


def covering(session: Session, location_id: int, camera_id: int, start: datetime,
             end: datetime | None = None) -> Pause | None:
    """An ended pause of the location, or of this camera, that the instant `start` falls in, or
    (given `end`) that overlaps [start, end)."""
    begins_before = Pause.started_at <= start if end is None else Pause.started_at < end
    query = select(Pause).where(Pause.location_id == location_id,
                                or_(Pause.camera_id.is_(None), Pause.camera_id == camera_id),
                                begins_before, Pause.ended_at > start)
    return session.scalars(query.limit(1)).first()


def counting_rows(camera_id: int):
    """SELECT of the camera's and its location's rows FOR SHARE (see service.lock_for_counting)."""
    cameras, locations = Camera.__table__, Location.__table__
    return (select(cameras.c.id).join(locations, locations.c.id == cameras.c.location_id)
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
    cameras, locations, pauses = Camera.__table__, Location.__table__, Pause.__table__
    captured_at = bindparam("captured_at", type_=UTCDateTime())
    earlier_pause = select(pauses.c.id).where(
        pauses.c.location_id == cameras.c.location_id,
        or_(pauses.c.camera_id.is_(None), pauses.c.camera_id == cameras.c.id),
        pauses.c.started_at <= captured_at, pauses.c.ended_at > captured_at)
    open_camera = (
        select(cameras.c.id).join(locations, locations.c.id == cameras.c.location_id)
        .where(cameras.c.id == bindparam("camera_id"), cameras.c.paused_since.is_(None),
               locations.c.paused_since.is_(None), locations.c.setting.not_in(PROHIBITED_SETTINGS),
               ~exists(earlier_pause))
        .with_for_update(read=True)
    )
    return exists(open_camera)
