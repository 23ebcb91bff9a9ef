from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from service.api.model import VALIDATION_FACES


MAX_FACES = 1_000_000_000  # counts are 32-bit in both databases


class CalibrationIn(BaseModel):
    """Rates measured elsewhere (e.g. by `happiness calibrate` on another machine), as counts of
    labelled faces, for the model version they were measured with."""

    model_version: str = Field(min_length=1, max_length=100, description="Must be the served model's version.")
    n_happy: int = Field(gt=0, le=MAX_FACES, description="Faces labelled happy.")
    happy_as_happy: int = Field(ge=0, le=MAX_FACES, description="Of those, faces the model called happy (tpr = this / n_happy).")
    n_other: int = Field(gt=0, le=MAX_FACES, description="Faces labelled with any other emotion.")
    other_as_happy: int = Field(ge=0, le=MAX_FACES, description="Of those, faces the model called happy (fpr = this / n_other).")

    @model_validator(mode="after")
    def _counts_fit(self) -> CalibrationIn:
        if self.happy_as_happy > self.n_happy:
            raise ValueError("happy_as_happy cannot exceed n_happy")
        if self.other_as_happy > self.n_other:
            raise ValueError("other_as_happy cannot exceed n_other")
        return self


class CalibrationOut(BaseModel):
    location_id: int
    model_name: str
    model_version: str
    n_happy: int
    happy_as_happy: int
    n_other: int
    other_as_happy: int
    tpr: float
    fpr: float
    calibrated_at: datetime
    in_use: bool = Field(description="False when the served model is another version: the model's rates are used.")


class RatesOut(BaseModel):
    """The happy-vs-rest rates behind adjusted_index and adjusted_ci95."""

    source: Literal["model", "location"] = Field(
        description="model: the model's own rates (measured_on names the faces; not this place's faces, and "
                    "`applied` says whether they adjust); location: this location's own labelled faces "
                    "(`happiness calibrate`).")
    tpr: float
    fpr: float
    n_happy: int | None = Field(description="Labelled happy faces the tpr was measured on; null: unknown (rates taken as exact).")
    n_other: int | None = Field(description="Labelled other faces the fpr was measured on.")
    model_version: str
    calibrated_at: datetime | None = None
    stale_calibration_version: str | None = Field(
        None, description="The location was calibrated for this other model version; its rates are not used.")
    measured_on: str = Field(VALIDATION_FACES, description="The labelled faces tpr and fpr were measured on.")
    applied: bool = Field(
        True, description="False: these rates do not adjust the index, and adjusted_index and adjusted_ci95 are "
                          "null (see note); calibrating the location (`happiness calibrate`) makes them apply.")
    note: str | None = Field(None, description="Why the rates are not applied, when they are not.")
