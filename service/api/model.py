"""The served model's description (name, version, happy-vs-rest rates, detector), built once
in the lifespan and read by every endpoint that reports or adjusts with it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    name: str
    version: str
    tpr: float = Field(description="Happy-vs-rest true positive rate on validation data.")
    fpr: float = Field(description="Happy-vs-rest false positive rate on validation data.")
    n_happy: int | None = Field(None, description="Validation faces labelled happy (tpr's denominator).")
    n_other: int | None = Field(None, description="Validation faces labelled otherwise (fpr's denominator).")
    detector: str = Field(description="The face detector that finds the faces: blazeface (the default CNN), "
                          "hog (the paper's dlib HOG) or stub (benchmarks).")


def model_info(name: str, version: str, metadata: dict, detector: str) -> ModelInfo:
    """The served model's description from its metadata.json (rates and their face counts), and
    the detector in front of it."""
    rates = metadata.get("happy_vs_rest") or {}
    return ModelInfo(name=name, version=str(version), tpr=float(rates.get("tpr", 1.0)),
                     fpr=float(rates.get("fpr", 0.0)), n_happy=rates.get("n_happy"), n_other=rates.get("n_other"),
                     detector=detector)


def get_model_info(request: Request) -> ModelInfo:
    return request.app.state.model_info


ModelInfoDep = Annotated[ModelInfo, Depends(get_model_info)]
