from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import Camera, Location


def get(session: Session, location_id: int) -> Location | None:
    return session.get(Location, location_id)


def find_by_name(session: Session, name: str) -> Location | None:
    return session.scalars(select(Location).where(Location.name == name)).first()


def list_all(session: Session) -> list[Location]:
    return list(session.scalars(select(Location).order_by(Location.id)))


def add(session: Session, location: Location) -> Location:
    session.add(location)
    session.flush()
    return location


def delete(session: Session, location: Location) -> None:
    session.delete(location)
    session.flush()


def lock_cameras(session: Session, location_id: int) -> None:
    """Lock the rows of the location's cameras (the delete's first step, see delete_location)."""
    query = select(Camera.id).where(Camera.location_id == location_id).with_for_update()
    session.execute(query).all()
