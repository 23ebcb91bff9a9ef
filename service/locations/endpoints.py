from __future__ import annotations

from fastapi import APIRouter, Response

from service.auth import AdminDep, ReaderDep
from service.deps import LocationId, ReadSessionDep, SessionDep
from service.errors import Conflict, Forbidden, NotFound, Unauthorized, problem_responses
from service.locations import service
from service.locations.schemas import LocationCreate, LocationOut, LocationUpdate

router = APIRouter(prefix="/locations", tags=["locations"])
AUTH_ERRORS = (Unauthorized, Forbidden)


@router.post("", status_code=201, response_model=LocationOut,
             responses=problem_responses(*AUTH_ERRORS, Conflict))
def create_location(data: LocationCreate, session: SessionDep, _: AdminDep):
    """Register a location (admin). Returns it with its `id`."""
    return service.create_location(session, data)


@router.get("", response_model=list[LocationOut], responses=problem_responses(*AUTH_ERRORS))
def list_locations(session: ReadSessionDep, _: ReaderDep):
    return service.list_locations(session)


@router.get("/{location_id}", response_model=LocationOut,
            responses=problem_responses(*AUTH_ERRORS, NotFound))
def get_location(location_id: LocationId, session: ReadSessionDep, _: ReaderDep):
    return service.get_location(session, location_id)


@router.patch("/{location_id}", response_model=LocationOut,
              responses=problem_responses(*AUTH_ERRORS, NotFound, Conflict))
def update_location(location_id: LocationId, data: LocationUpdate, session: SessionDep, _: AdminDep):
    """Change some fields of a location (admin); fields left out stay as they are."""
    return service.update_location(session, location_id, data)


@router.delete("/{location_id}", status_code=204, responses=problem_responses(*AUTH_ERRORS, NotFound))
def delete_location(location_id: LocationId, session: SessionDep, _: AdminDep):
    """Delete a location with its cameras and all its counts (admin)."""
    service.delete_location(session, location_id)
    return Response(status_code=204)
