from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import Camera


def get(session: Session, camera_id: int) -> Camera | None:
    return session.get(Camera, camera_id)


def list_for_location(session: Session, location_id: int) -> list[Camera]:
    query = select(Camera).where(Camera.location_id == location_id).order_by(Camera.id)
    return list(session.scalars(query))


def add(session: Session, camera: Camera) -> Camera:
    session.add(camera)
    session.flush()
    return camera
