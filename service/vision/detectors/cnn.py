"""face_recognition's CNN (dlib MMOD) face detector: opt-in, slower on CPU, finds more
profile, tilted and partly occluded faces than HOG. Same scaling rule as HOG (base.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from service.vision.detectors.base import CropFraming, DetectorConfig, ScaledDlibDetector, exclusive_rect


@dataclass(frozen=True, kw_only=True)
class CnnConfig(DetectorConfig):
    type: Literal["cnn"] = "cnn"
    # None: the mmod_human_face_detector.dat shipped with face_recognition_models
    model_path: str | None = None


class CnnDetector(ScaledDlibDetector[CnnConfig]):
    """dlib's MMOD CNN face detector on RGB frames.

    `native_face_px`: measured by shrinking a photo step by step, the smallest box the
    network returns at scale 1 is 80 px, the same as HOG, so the same rule applies unchanged.
    """

    type: ClassVar[str] = "cnn"
    config_class: ClassVar[type[DetectorConfig]] = CnnConfig
    native_face_px: ClassVar[float] = 80.0
    grayscale: ClassVar[bool] = False  # trained on colour images
    # bench/crop_framing.py --detector cnn --min-face-px 80: best of margins 0.05-0.3 x lifts 0-0.1
    # on 600 FER2013 train faces (571 found): 80.2% against 77.6% at margin 0.2; on 600 val faces
    # (570 found) 65.8% against 64.9% (66.3% in FER2013's own framing). The MMOD box is centred on
    # the face (0.03 of a side low), about a tenth of a side narrower on each side.
    framing: ClassVar[CropFraming] = CropFraming(margin=0.1)

    def _create_dlib_detector(self) -> Callable[[np.ndarray], Any]:
        import dlib

        network = dlib.cnn_face_detection_model_v1(self._model_path())
        return lambda image: network(image, 0)

    def _model_path(self) -> str:
        if self.config.model_path is not None:
            return self.config.model_path
        # Only the detector weights: importing face_recognition.api would also load its
        # landmark and encoder models (~100 MB) that this service never uses.
        import face_recognition_models

        return face_recognition_models.cnn_face_detector_model_location()

    def _rects(self, dlib_result: Any) -> Iterable[tuple[int, int, int, int]]:
        return (exclusive_rect(detection.rect) for detection in dlib_result)
