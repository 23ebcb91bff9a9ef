"""Reads and writes of location_calibrations."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.db.tables import LocationCalibration


def get(session: Session, location_id: int) -> LocationCalibration | None:
    return session.get(LocationCalibration, location_id)


def of_locations(session: Session, location_ids: list[int]) -> dict[int, LocationCalibration]:
    if not location_ids:
        return {}
    query = select(LocationCalibration).where(LocationCalibration.location_id.in_(location_ids))
    return {row.location_id: row for row in session.scalars(query)}


def replace(session: Session, calibration: LocationCalibration) -> LocationCalibration:
    """The location's calibration becomes this one (a location keeps only its latest)."""
    session.execute(delete(LocationCalibration).where(LocationCalibration.location_id == calibration.location_id))
    session.add(calibration)
    session.flush()
    return calibration


def remove(session: Session, location_id: int) -> bool:
    result = session.execute(delete(LocationCalibration).where(LocationCalibration.location_id == location_id))
    return result.rowcount > 0
