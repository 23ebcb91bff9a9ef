"""Location rules: names are unique; an unknown id is a 404; a new time zone regroups the
location's counts into its new local days. Services flush, never commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.cameras import repository as cameras
from service.db import rollup
from service.db.tables import Location
from service.errors import Conflict, NotFound
from service.locations import repository
from service.locations.schemas import LocationCreate, LocationUpdate


def get_location(session: Session, location_id: int) -> Location:
    location = repository.get(session, location_id)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    return location


def create_location(session: Session, data: LocationCreate) -> Location:
    _ensure_name_free(session, data.name)
    return repository.add(session, Location(**data.model_dump()))


def update_location(session: Session, location_id: int, data: LocationUpdate) -> Location:
    location = get_location(session, location_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") not in (None, location.name):
        _ensure_name_free(session, changes["name"])
    zone_changed = changes.get("timezone") not in (None, location.timezone)
    for field, value in changes.items():
        setattr(location, field, value)
    session.flush()
    if zone_changed:
        rollup.rebuild_location(session, location.id, location.timezone)
    return location


def delete_location(session: Session, location_id: int) -> None:
    """The location with its cameras and counts. Its cameras' rows are locked first, so that
    frames counting at that moment (each holds its camera's row, then the location's) finish
    before the delete goes on instead of deadlocking with it on PostgreSQL; later frames find
    no camera and are refused."""
    location = get_location(session, location_id)
    cameras.lock_for_location(session, location.id)
    repository.delete(session, location)


def list_locations(session: Session) -> list[Location]:
    return repository.list_all(session)


def _ensure_name_free(session: Session, name: str) -> None:
    if repository.find_by_name(session, name) is not None:
        raise Conflict(f"a location named {name!r} already exists")
