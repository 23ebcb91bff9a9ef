"""Which happy-vs-rest rates adjust a location's index: its own calibration while it was
measured with the served model, else the model's rates, which adjust only where the model's
metadata applies them (``default_rates``: on in-the-wild faces the model's rates differ from
one population to the next, so rates measured elsewhere can move the share away from the
truth; models/README.md, "Default rates")."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.api.model import ModelInfo
from service.calibrations import repository
from service.calibrations.schemas import RatesOut
from service.calibrations.service import rates_of
from service.db.tables import LocationCalibration
from service.index.statistics import Rates

LOCATION_FACES = "this location's own labelled faces"


def model_rates(model: ModelInfo, stale: LocationCalibration | None = None) -> tuple[Rates, RatesOut]:
    rates = Rates(model.tpr, model.fpr, model.n_happy, model.n_other, applied=model.rates_applied)
    return rates, RatesOut(source="model", tpr=model.tpr, fpr=model.fpr, n_happy=model.n_happy,
                           n_other=model.n_other, model_version=model.version,
                           stale_calibration_version=stale.model_version if stale else None,
                           measured_on=model.rates_measured_on, applied=model.rates_applied,
                           note=model.rates_note)


def rates_in_use(calibration: LocationCalibration | None, model: ModelInfo) -> tuple[Rates, RatesOut]:
    """The location's own rates while they were measured with the served model, else the model's."""
    if calibration is None or (calibration.model_name, calibration.model_version) != (model.name, model.version):
        return model_rates(model, calibration)
    tpr, fpr = rates_of(calibration)
    return (Rates(tpr, fpr, calibration.n_happy, calibration.n_other),
            RatesOut(source="location", tpr=tpr, fpr=fpr, n_happy=calibration.n_happy,
                     n_other=calibration.n_other, model_version=calibration.model_version,
                     calibrated_at=calibration.calibrated_at, measured_on=LOCATION_FACES))


def rates_of_locations(session: Session, location_ids: list[int],
                       model: ModelInfo) -> dict[int, tuple[Rates, RatesOut]]:
    calibrations = repository.of_locations(session, location_ids)
    return {location_id: rates_in_use(calibrations.get(location_id), model) for location_id in location_ids}
