"""The served model's description (name, version, happy-vs-rest rates, detector), built once
in the lifespan and read by every endpoint that reports or adjusts with it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field

VALIDATION_FACES = "the model's validation faces"


class ModelInfo(BaseModel):
    name: str
    version: str
    tpr: float = Field(description="Happy-vs-rest true positive rate on validation data (rates_measured_on).")
    fpr: float = Field(description="Happy-vs-rest false positive rate on validation data (rates_measured_on).")
    n_happy: int | None = Field(None, description="Validation faces labelled happy (tpr's denominator).")
    n_other: int | None = Field(None, description="Validation faces labelled otherwise (fpr's denominator).")
    detector: str = Field(description="The face detector that finds the faces: blazeface (the default CNN), "
                          "hog (the paper's dlib HOG) or stub (benchmarks).")
    rates_measured_on: str = Field(VALIDATION_FACES, description="The labelled faces tpr and fpr were measured on.")
    rates_applied: bool = Field(True, description="False: the model's rates do not adjust a location's index "
                                "(adjusted_index is null) unless the location has its own calibration; see rates_note.")
    rates_note: str | None = Field(None, description="Why the model's rates are not applied, when they are not.")


def model_info(name: str, version: str, metadata: dict, detector: str) -> ModelInfo:
    """The served model's description from its metadata.json (rates and their face counts), and
    the detector in front of it.

    ``default_rates`` (written for one model version, after bench/wild_rates.py) says whether
    the stored ``happy_vs_rest`` rates adjust indices by default and names the faces they were
    measured on; it is ignored for any other version (a retrained model keeps the old block
    until it is measured again), and without it the rates adjust, as before."""
    rates = metadata.get("happy_vs_rest") or {}
    default = metadata.get("default_rates") or {}
    if str(default.get("model_version")) != str(version):
        default = {}
    return ModelInfo(name=name, version=str(version), tpr=float(rates.get("tpr", 1.0)),
                     fpr=float(rates.get("fpr", 0.0)), n_happy=rates.get("n_happy"), n_other=rates.get("n_other"),
                     detector=detector, rates_measured_on=default.get("happy_vs_rest_measured_on", VALIDATION_FACES),
                     rates_applied=bool(default.get("applied", True)), rates_note=default.get("note"))


def get_model_info(request: Request) -> ModelInfo:
    return request.app.state.model_info


ModelInfoDep = Annotated[ModelInfo, Depends(get_model_info)]
