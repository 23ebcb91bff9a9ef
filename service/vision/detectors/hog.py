"""dlib's HOG frontal face detector (the one face_recognition uses), on grayscale frames
scaled by the minimum-face-size rule in base.py instead of a fixed upsample."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from service.vision.detectors.base import DetectorConfig, ScaledDlibDetector, exclusive_rect


@dataclass(frozen=True, kw_only=True)
class HogConfig(DetectorConfig):
    type: Literal["hog"] = "hog"


class HogDetector(ScaledDlibDetector[HogConfig]):
    """Fast CPU detector for roughly frontal faces.

    dlib's detector slides an 80x80 HOG window over an image pyramid, so at scale 1 it
    finds faces of about 80 px and larger; that is `native_face_px`.
    """

    type: ClassVar[str] = "hog"
    config_class: ClassVar[type[DetectorConfig]] = HogConfig
    native_face_px: ClassVar[float] = 80.0
    grayscale: ClassVar[bool] = True

    def _create_dlib_detector(self) -> Callable[[np.ndarray], Any]:
        import dlib  # deferred: importing dlib costs time that stub users should not pay

        detector = dlib.get_frontal_face_detector()
        # upsample 0: the working image is already at the scale the rule chose
        return lambda image: detector(image, 0)

    def _rects(self, dlib_result: Any) -> Iterable[tuple[int, int, int, int]]:
        return map(exclusive_rect, dlib_result)
