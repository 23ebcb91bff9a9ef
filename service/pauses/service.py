"""Pausing and resuming a location or one camera (admin), and the admission check every count
passes: a location whose setting the law prohibits, a paused location or camera, or a frame
captured inside an earlier pause is refused, so a paused period shows as a gap, not as zeros.

The current state lives on the location and camera rows (`paused_since`), which a frame's
write locks and checks in its own transaction (repository.counting_allowed); the intervals in
`pauses` are the history the series and the audit read."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime

from sqlalchemy.orm import Session

from service.audit import service as audit
from service.security.actors import SYSTEM, Actor
from service.cameras.service import get_camera
from service.security.keys import UNKNOWN_KEY
from service.db.tables import Camera, Location, Pause, utc_now
from service.api.errors import Conflict, Locked, NotFound, ProhibitedLocation, ServiceError, Unauthorized
from service.locations.schemas import PROHIBITED_SETTINGS, PROHIBITION_RULE
from service.locations.service import prohibition_detail
from service.pauses import repository


def pause_location(session: Session, location_id: int, reason: str | None, actor: Actor = SYSTEM) -> Pause:
    location = _locked_location(session, location_id)
    return _pause(session, location, location_id, None, reason, actor)


def resume_location(session: Session, location_id: int, actor: Actor = SYSTEM) -> Pause:
    location = _locked_location(session, location_id)
    return _resume(session, location, location_id, None, actor)


def pause_camera(session: Session, location_id: int, camera_id: int, reason: str | None,
                 actor: Actor = SYSTEM) -> Pause:
    camera = _locked_camera(session, location_id, camera_id)
    return _pause(session, camera, location_id, camera_id, reason, actor)


def resume_camera(session: Session, location_id: int, camera_id: int, actor: Actor = SYSTEM) -> Pause:
    camera = _locked_camera(session, location_id, camera_id)
    return _resume(session, camera, location_id, camera_id, actor)


def _locked_location(session: Session, location_id: int) -> Location:
    """The row, locked until the transaction ends (FOR UPDATE on PostgreSQL): two admins
    pausing at once queue, and the pause's start is stamped only after frames that were being
    written have committed."""
    location = session.get(Location, location_id, with_for_update=True, populate_existing=True)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    return location


def _locked_camera(session: Session, location_id: int, camera_id: int) -> Camera:
    get_camera(session, location_id, camera_id)  # 404 unless it belongs to the location
    return session.get(Camera, camera_id, with_for_update=True, populate_existing=True)


def _pause(session: Session, row, location_id: int, camera_id: int | None, reason: str | None,
           actor: Actor) -> Pause:
    if row.paused_since is not None:
        raise Conflict(f"{_name(location_id, camera_id)} is already paused since {row.paused_since.isoformat()}")
    row.paused_since = utc_now()
    pause = repository.add(session, Pause(location_id=location_id, camera_id=camera_id,
                                          started_at=row.paused_since, reason=reason))
    audit.record(session, actor, f"{_kind(camera_id)}.pause", _target(location_id, camera_id),
                 pause_id=pause.id, reason=reason)
    return pause


def _resume(session: Session, row, location_id: int, camera_id: int | None, actor: Actor) -> Pause:
    if row.paused_since is None:
        raise Conflict(f"{_name(location_id, camera_id)} is not paused")
    pause = repository.open_pause(session, location_id, camera_id)
    pause.ended_at, row.paused_since = utc_now(), None
    session.flush()
    audit.record(session, actor, f"{_kind(camera_id)}.resume", _target(location_id, camera_id),
                 pause_id=pause.id, paused_seconds=round((pause.ended_at - pause.started_at).total_seconds()))
    return pause


def _kind(camera_id: int | None) -> str:
    return "location" if camera_id is None else "camera"


def _name(location_id: int, camera_id: int | None) -> str:
    return f"location {location_id}" if camera_id is None else f"camera {camera_id}"


def _target(location_id: int, camera_id: int | None) -> str:
    return audit.location_target(location_id) if camera_id is None else audit.camera_target(camera_id)


def list_pauses(session: Session, location_id: int, start: datetime, end: datetime) -> list[Pause]:
    return repository.overlapping(session, location_id, start, end)


def mark_paused(session: Session, location_id: int, points: list) -> None:
    """Flag the series points (contiguous periods with `start`, `end`, sorted) that a pause of
    the whole location overlaps; a camera's pause leaves the location's other cameras counting."""
    if not points:
        return
    starts, ends = [p.start for p in points], [p.end for p in points]
    for pause in repository.overlapping(session, location_id, starts[0], ends[-1], location_only=True):
        first = bisect_right(ends, pause.started_at)  # the first period ending after the pause starts
        last = bisect_left(starts, pause.ended_at) if pause.ended_at else len(points)
        for point in points[first:last]:
            point.paused = True


# --- admission of counts --------------------------------------------------------------------

def lock_for_counting(session: Session, camera_id: int) -> None:
    """Lock the camera's and its location's rows until the transaction ends (FOR SHARE on
    PostgreSQL), as a frame's own write does: a pause or a setting change, which updates them,
    waits for this transaction, and the checks that follow (new statements) see any change that
    committed before. SQLite runs one writer at a time."""
    session.execute(repository.counting_rows(camera_id))


def refusal(session: Session, location_id: int, camera_id: int, start: datetime,
            end: datetime | None = None) -> ServiceError | None:
    """Why this camera may not count what it saw at `start` (a frame) or in [start, end) (an
    observation), or None when it may."""
    state = repository.counting_state(session, camera_id, start, end)
    if state is None:
        return Unauthorized(UNKNOWN_KEY)  # the camera went, with its key (or its location)
    return problem_of(session, state, location_id, camera_id, start, end)


def problem_of(session: Session, state, location_id: int, camera_id: int, start: datetime,
               end: datetime | None = None) -> ServiceError | None:
    """The refusal that a row of repository.state_columns means, or None."""
    if state.setting in PROHIBITED_SETTINGS:
        return ProhibitedLocation(f"location {location_id}: {prohibition_detail(state.setting)}",
                                  rule=PROHIBITION_RULE)
    for paused, name in ((state.location_paused_since, f"location {location_id}"),
                         (state.camera_paused_since, f"camera {camera_id}")):
        if paused is not None:
            return Locked(f"{name} is paused since {paused.isoformat()}: nothing is counted until an "
                          "admin resumes it", paused_since=paused.isoformat())
    if state.earlier_pause_id is not None:
        earlier = session.get(Pause, state.earlier_pause_id)
        what = f"captured_at {start.isoformat()}" if end is None else f"[{start.isoformat()}, {end.isoformat()})"
        return Locked(f"{what} falls in a pause ({earlier.started_at.isoformat()} to "
                      f"{earlier.ended_at.isoformat()}): nothing seen while paused is counted")
    return None


def ensure_counting_allowed(session: Session, location_id: int, camera_id: int, start: datetime,
                            end: datetime | None = None) -> None:
    problem = refusal(session, location_id, camera_id, start, end)
    if problem is not None:
        raise problem
