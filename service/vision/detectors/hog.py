"""dlib's HOG frontal face detector (the one face_recognition uses), on grayscale frames
scaled by the minimum-face-size rule in base.py instead of a fixed upsample."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from service.vision.detectors.base import CropFraming, DetectorConfig, ScaledDlibDetector, exclusive_rect


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
    # Chosen by bench/crop_framing.py on FER2013 train faces, the best of margins 0.05-0.3 x lifts
    # 0-0.1 by faces classified right through these crops, ahead of the earlier guess (margin 0.2,
    # no lift), and checked on val (the val figures: models/README.md, FER2013 val through the HOG
    # detector and crop). The box is about a tenth of a side narrower than a FER face on each side
    # and sits a tenth of a side low.
    framing: ClassVar[CropFraming] = CropFraming(margin=0.1, lift=0.05)

    def _create_dlib_detector(self) -> Callable[[np.ndarray], Any]:
        import dlib  # deferred: importing dlib costs time that stub users should not pay

        detector = dlib.get_frontal_face_detector()
        # upsample 0: the working image is already at the scale the rule chose
        return lambda image: detector(image, 0)

    def _rects(self, dlib_result: Any) -> Iterable[tuple[int, int, int, int]]:
        return map(exclusive_rect, dlib_result)
