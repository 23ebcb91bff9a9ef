"""Which happy-vs-rest rates a location's adjusted index uses, and storing a location's own.

A location calibrated for the served model version uses its own rates (`source: location`);
otherwise the model's validation rates (`source: model`), and a calibration made for another
model version is named in the answer as stale: a new model decides differently, so its rates
must be measured again (`happiness calibrate`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.audit import service as audit
from service.security.actors import SYSTEM, Actor
from service.calibrations import repository
from service.api.model import ModelInfo
from service.calibrations.schemas import CalibrationIn, CalibrationOut
from service.db.tables import LocationCalibration
from service.api.errors import InvalidInput, NotFound
from service.locations.service import get_location


def rates_of(calibration: LocationCalibration) -> tuple[float, float]:
    return calibration.happy_as_happy / calibration.n_happy, calibration.other_as_happy / calibration.n_other


def store(session: Session, location_id: int, counts: CalibrationIn, model_name: str,
          actor: Actor = SYSTEM) -> CalibrationOut:
    """Replace the location's calibration with these counts (NotFound for an unknown location;
    InvalidInput when the model calls happy faces happy no more often than other faces), and
    record it in the audit log."""
    get_location(session, location_id)
    if counts.happy_as_happy / counts.n_happy <= counts.other_as_happy / counts.n_other:
        raise InvalidInput("tpr must exceed fpr: with these counts the model tells happy faces from others "
                           "no better than chance, and no adjustment is possible")
    row = repository.replace(session, LocationCalibration(location_id=location_id, model_name=model_name,
                                                          **counts.model_dump()))
    audit.record(session, actor, "calibration.store", audit.location_target(location_id), model_name=model_name,
                 **counts.model_dump())
    return describe(row, model_name, counts.model_version)


def describe(row: LocationCalibration, served_name: str, served_version: str) -> CalibrationOut:
    tpr, fpr = rates_of(row)
    return CalibrationOut(location_id=row.location_id, model_name=row.model_name, model_version=row.model_version,
                          n_happy=row.n_happy, happy_as_happy=row.happy_as_happy, n_other=row.n_other,
                          other_as_happy=row.other_as_happy, tpr=tpr, fpr=fpr, calibrated_at=row.calibrated_at,
                          in_use=(row.model_name, row.model_version) == (served_name, served_version))


def get_calibration(session: Session, location_id: int, model: ModelInfo) -> CalibrationOut:
    get_location(session, location_id)
    row = repository.get(session, location_id)
    if row is None:
        raise NotFound(f"location {location_id} has no calibration; its adjusted index uses the model's rates")
    return describe(row, model.name, model.version)


def remove(session: Session, location_id: int, actor: Actor = SYSTEM) -> None:
    get_location(session, location_id)
    if not repository.remove(session, location_id):
        raise NotFound(f"location {location_id} has no calibration")
    audit.record(session, actor, "calibration.remove", audit.location_target(location_id))
