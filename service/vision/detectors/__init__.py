"""Pluggable face detectors, chosen by name from an explicit registry.

    detector = build_detector("hog", min_face_px=48, max_width=1280)
    boxes = detector.detect(rgb)
"""

from __future__ import annotations

from typing import Any

from service.vision.detectors.base import Detector, DetectorConfig, FaceBox, smallest_findable_face_px, working_scale
from service.vision.detectors.blazeface import BlazeFaceConfig, BlazeFaceDetector
from service.vision.detectors.hog import HogConfig, HogDetector
from service.vision.detectors.stub import StubConfig, StubDetector

DETECTORS: dict[str, type[Detector[Any]]] = {
    "blazeface": BlazeFaceDetector,
    "hog": HogDetector,
    "stub": StubDetector,  # benchmarks and API tests only: boxes without faces
}


def build_detector(type: str, min_face_px: int | None = None, max_width: int | None = None,
                   **options: Any) -> Detector[Any]:
    """Instantiate the detector registered under `type` with its config class; `min_face_px` and
    `max_width` left as None take that detector's own defaults.

    `options` are that detector's own fields (e.g. `faces` for "stub", `min_score` for "blazeface").
    Raises ValueError for an unknown type or an invalid setting.
    """
    try:
        detector_class = DETECTORS[type]
    except KeyError:
        raise ValueError(f"unknown detector type {type!r}; choose one of {sorted(DETECTORS)}") from None
    try:
        sizes = {name: value for name, value in (("min_face_px", min_face_px), ("max_width", max_width))
                 if value is not None}
        config = detector_class.config_class(**sizes, **options)
    except TypeError as exc:  # an option this detector does not have
        raise ValueError(f"invalid option for detector {type!r}: {exc}") from None
    return detector_class(config)


__all__ = [
    "DETECTORS",
    "BlazeFaceConfig",
    "BlazeFaceDetector",
    "Detector",
    "DetectorConfig",
    "FaceBox",
    "HogConfig",
    "HogDetector",
    "StubConfig",
    "StubDetector",
    "build_detector",
    "smallest_findable_face_px",
    "working_scale",
]
