from __future__ import annotations

from fastapi import APIRouter, Response

from service.security.auth import AdminDep, ReaderDep
from service.api.deps import LocationId, ReadSessionDep, SessionDep
from service.api.errors import Conflict, Forbidden, NotFound, ProhibitedSetting, Unauthorized, problem_responses
from service.locations import service
from service.locations.schemas import LocationCreate, LocationOut, LocationUpdate

router = APIRouter(prefix="/locations", tags=["locations"])
AUTH_ERRORS = (Unauthorized, Forbidden)


@router.post("", status_code=201, response_model=LocationOut,
             responses=problem_responses(*AUTH_ERRORS, Conflict, ProhibitedSetting))
def create_location(data: LocationCreate, session: SessionDep, actor: AdminDep):
    """Register a location (admin). Returns it with its `id`. A `workplace` or `education`
    setting is refused (EU AI Act Art. 5(1)(f))."""
    return service.create_location(session, data, actor)


@router.get("", response_model=list[LocationOut], responses=problem_responses(*AUTH_ERRORS))
def list_locations(session: ReadSessionDep, _: ReaderDep):
    return service.list_locations(session)


@router.get("/{location_id}", response_model=LocationOut,
            responses=problem_responses(*AUTH_ERRORS, NotFound))
def get_location(location_id: LocationId, session: ReadSessionDep, _: ReaderDep):
    return service.get_location(session, location_id)


@router.patch("/{location_id}", response_model=LocationOut,
              responses=problem_responses(*AUTH_ERRORS, NotFound, Conflict, ProhibitedSetting))
def update_location(location_id: LocationId, data: LocationUpdate, session: SessionDep, actor: AdminDep):
    """Change some fields of a location (admin); fields left out stay as they are."""
    return service.update_location(session, location_id, data, actor)


@router.delete("/{location_id}", status_code=204, responses=problem_responses(*AUTH_ERRORS, NotFound))
def delete_location(location_id: LocationId, session: SessionDep, actor: AdminDep):
    """Delete a location with its cameras and all its counts (admin)."""
    service.delete_location(session, location_id, actor)
    return Response(status_code=204)
