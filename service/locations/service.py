"""Location rules: names are unique; an unknown id is a 404; a new time zone regroups the
location's counts into its new local days; settings where the law prohibits emotion recognition
are refused. Every change is written to the audit log. Services flush, never commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.audit import service as audit
from service.security.actors import SYSTEM, Actor
from service.db import rollup
from service.db.tables import Location
from service.api.errors import Conflict, NotFound, ProhibitedSetting
from service.locations import repository
from service.locations.schemas import PROHIBITED_SETTINGS, PROHIBITION_RULE, LocationCreate, LocationUpdate


def get_location(session: Session, location_id: int) -> Location:
    location = repository.get(session, location_id)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    return location


def create_location(session: Session, data: LocationCreate, actor: Actor = SYSTEM) -> Location:
    ensure_setting_permitted(data.setting)
    _ensure_name_free(session, data.name)
    location = repository.add(session, Location(**data.model_dump()))
    audit.record(session, actor, "location.create", audit.location_target(location.id), **data.model_dump())
    return location


def update_location(session: Session, location_id: int, data: LocationUpdate, actor: Actor = SYSTEM) -> Location:
    location = get_location(session, location_id)
    changes = data.model_dump(exclude_unset=True)
    if "setting" in changes:
        ensure_setting_permitted(changes["setting"])
    if changes.get("name") not in (None, location.name):
        _ensure_name_free(session, changes["name"])
    zone_changed = changes.get("timezone") not in (None, location.timezone)
    changed = {field: [getattr(location, field), value] for field, value in changes.items()
               if getattr(location, field) != value}
    for field, value in changes.items():
        setattr(location, field, value)
    session.flush()
    if zone_changed:
        rollup.rebuild_location(session, location.id, location.timezone)
    if changed:
        audit.record(session, actor, "location.update", audit.location_target(location.id), changed=changed)
    return location


def delete_location(session: Session, location_id: int, actor: Actor = SYSTEM) -> None:
    """The location with its cameras and counts. Its cameras' rows are locked first, so that
    frames counting at that moment (each holds its camera's row, then the location's) finish
    before the delete goes on instead of deadlocking with it on PostgreSQL; later frames find
    no camera and are refused."""
    location = get_location(session, location_id)
    repository.lock_cameras(session, location.id)
    audit.record(session, actor, "location.delete", audit.location_target(location_id), name=location.name)
    repository.delete(session, location)


def ensure_setting_permitted(setting: str) -> None:
    if setting in PROHIBITED_SETTINGS:
        raise ProhibitedSetting(prohibition_detail(setting), rule=PROHIBITION_RULE)


def prohibition_detail(setting: str) -> str:
    return (f"setting {setting!r} is refused: the EU AI Act, Art. 5(1)(f), prohibits inferring emotions "
            "in workplaces and education institutions, so this service counts nothing there")


def list_locations(session: Session) -> list[Location]:
    return repository.list_all(session)


def _ensure_name_free(session: Session, name: str) -> None:
    if repository.find_by_name(session, name) is not None:
        raise Conflict(f"a location named {name!r} already exists")
