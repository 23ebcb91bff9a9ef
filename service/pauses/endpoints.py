"""Pause and resume a location or a camera (admin): meanwhile its frames and observations are
refused with 423 and nothing is counted; the paused periods are gaps in the index series."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Query

from service.security.auth import AdminDep, ReaderDep
from service.db.tables import utc_now
from service.api.deps import CameraId, LocationId, ReadSessionDep, SessionDep
from service.api.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized, problem_responses
from service.api.inputs import Instant
from service.locations.service import get_location
from service.pauses import service
from service.pauses.schemas import PauseOut, PauseRequest

router = APIRouter(prefix="/locations/{location_id}", tags=["pauses"])
ERRORS = problem_responses(Unauthorized, Forbidden, NotFound, Conflict)
ReasonBody = Annotated[PauseRequest | None, Body(description="Optional: why.")]


@router.post("/pause", status_code=201, response_model=PauseOut, responses=ERRORS)
def pause_location(location_id: LocationId, session: SessionDep, actor: AdminDep, data: ReasonBody = None):
    """Pause a location (admin): from now on its frames and observations are refused with 423
    and nothing is counted, until it is resumed. 409 when it is paused already."""
    return service.pause_location(session, location_id, data.reason if data else None, actor)


@router.post("/resume", response_model=PauseOut, responses=ERRORS)
def resume_location(location_id: LocationId, session: SessionDep, actor: AdminDep):
    """End a location's pause (admin); answers the pause with its `ended_at`."""
    return service.resume_location(session, location_id, actor)


@router.post("/cameras/{camera_id}/pause", status_code=201, response_model=PauseOut, responses=ERRORS)
def pause_camera(location_id: LocationId, camera_id: CameraId, session: SessionDep, actor: AdminDep,
                 data: ReasonBody = None):
    """Pause one camera (admin); the location's other cameras go on counting."""
    return service.pause_camera(session, location_id, camera_id, data.reason if data else None, actor)


@router.post("/cameras/{camera_id}/resume", response_model=PauseOut, responses=ERRORS)
def resume_camera(location_id: LocationId, camera_id: CameraId, session: SessionDep, actor: AdminDep):
    """End a camera's pause (admin)."""
    return service.resume_camera(session, location_id, camera_id, actor)


@router.get("/pauses", response_model=list[PauseOut],
            responses=problem_responses(Unauthorized, Forbidden, NotFound, InvalidInput))
def list_pauses(location_id: LocationId, session: ReadSessionDep, _: ReaderDep,
                start: Annotated[Instant | None, Query(alias="from", description="Default: `to` minus 30 days.")] = None,
                end: Annotated[Instant | None, Query(alias="to", description="Default: now.")] = None):
    """The location's and its cameras' pauses that overlap the range, oldest first."""
    get_location(session, location_id)
    end = end or utc_now()
    start = start or end - timedelta(days=30)
    if start >= end:
        raise InvalidInput("`from` must be before `to`")
    return service.list_pauses(session, location_id, start, end)
