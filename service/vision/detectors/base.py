"""Detector interface, face boxes, and the scale rule shared by the dlib detectors.

Scale rule (HOG and CNN alike). A dlib detector finds faces down to a native size
(`native_face_px`, about 80 px for the HOG detector) at scale 1. To reach `min_face_px`
the frame would be scaled by native_face_px / min_face_px; to bound the cost, the working
width is capped at `max_width`:

    scale = min(native_face_px / min_face_px, max_width / width)

So small frames are enlarged until a min_face_px face becomes native-sized, and large frames
are shrunk to max_width. When the cap wins, the smallest face still found is
native_face_px / scale px (e.g. HOG, 1920 px wide frame, max_width 1280: scale 2/3, faces
from 120 px), which `smallest_findable_face_px` reports. Every face >= min_face_px is found
whenever width * native_face_px / min_face_px <= max_width; raise max_width to trade speed
for small faces in large frames. The cap is on width only, as configured, so portrait frames
cost more per pixel of width than landscape ones.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from service.vision.boxes import FaceBox
from service.vision.preprocess import DEFAULT_LIFT, DEFAULT_MARGIN, resize, to_gray


@dataclass(frozen=True, kw_only=True)
class DetectorConfig:
    """Settings every detector accepts; subclasses add a `type` literal and their own fields."""

    min_face_px: int = 48
    max_width: int = 1280

    def __post_init__(self) -> None:
        if self.min_face_px < 1:
            raise ValueError(f"min_face_px must be >= 1, got {self.min_face_px}")
        if self.max_width < 16:
            raise ValueError(f"max_width must be >= 16, got {self.max_width}")


ConfigT = TypeVar("ConfigT", bound=DetectorConfig)


@dataclass(frozen=True)
class CropFraming:
    """How a detector's box becomes the square the classifier sees (preprocess.square_region):
    grown by `margin` box sides on every side and its centre raised by `lift` box sides.

    The models learnt from FER2013's framing, and each detector draws its boxes its own way
    (dlib's HOG box runs from the brows to the chin, lower than FER2013's faces sit), so each
    detector carries the framing measured for it by bench/crop_framing.py. `upright`: turn the
    square by the box's eye keypoints so that a tilted head is read upright (detectors that find
    eyes only)."""

    margin: float
    lift: float = DEFAULT_LIFT
    upright: bool = False


class Detector(ABC, Generic[ConfigT]):
    """Finds faces in an RGB uint8 HxWx3 frame; boxes come back in that frame's pixels."""

    type: ClassVar[str]
    config_class: ClassVar[type[DetectorConfig]]
    framing: ClassVar[CropFraming] = CropFraming(margin=DEFAULT_MARGIN)  # detectors not measured yet (and the stub)

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    @abstractmethod
    def detect(self, rgb: np.ndarray) -> list[FaceBox]: ...

    def smallest_face_px(self, width: int, height: int) -> float:
        """The smallest face (frame pixels) searched for in a frame of this size."""
        return float(self.config.min_face_px)


def working_scale(width: int, *, native_face_px: float, min_face_px: int, max_width: int) -> float:
    """scale = min(native_face_px / min_face_px, max_width / width); see the module docstring."""
    return min(native_face_px / min_face_px, max_width / width)


def smallest_findable_face_px(width: int, *, native_face_px: float, min_face_px: int, max_width: int) -> float:
    """The smallest face (original pixels) a detector can find in a frame of this width."""
    scale = working_scale(width, native_face_px=native_face_px, min_face_px=min_face_px, max_width=max_width)
    return native_face_px / scale


def to_original_boxes(
    rects: Iterable[tuple[int, int, int, int]],
    scale_x: float,
    scale_y: float,
    width: int,
    height: int,
) -> list[FaceBox]:
    """Map (left, top, right, bottom) working-image rects (right/bottom exclusive) back to
    the original frame, clipped to it. Rects wholly outside the frame are dropped."""
    boxes = []
    for left, top, right, bottom in rects:
        box = FaceBox(
            top=max(0, math.floor(top / scale_y)),
            right=min(width, math.ceil(right / scale_x)),
            bottom=min(height, math.ceil(bottom / scale_y)),
            left=max(0, math.floor(left / scale_x)),
        )
        if box.width > 0 and box.height > 0:
            boxes.append(box)
    return boxes


def exclusive_rect(rect: Any) -> tuple[int, int, int, int]:
    """A dlib rectangle (right() and bottom() inclusive) as exclusive (left, top, right, bottom)."""
    return rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1


class ScaledDlibDetector(Detector[ConfigT]):
    """Template for dlib detectors: scale the frame by the rule above, run dlib once with
    upsample 0, map the boxes back.

    Thread safety: dlib documents its object_detector and DNN objects as unsafe for
    concurrent use (they keep scratch buffers). Each thread therefore gets its own dlib
    object, created lazily; no lock, so threads never queue behind one another.
    """

    native_face_px: ClassVar[float]
    grayscale: ClassVar[bool]

    def __init__(self, config: ConfigT) -> None:
        super().__init__(config)
        self._per_thread = threading.local()

    @abstractmethod
    def _create_dlib_detector(self) -> Callable[[np.ndarray], Any]: ...

    @abstractmethod
    def _rects(self, dlib_result: Any) -> Iterable[tuple[int, int, int, int]]:
        """Turn dlib's result into (left, top, right, bottom) with right/bottom exclusive."""

    def _dlib_detector(self) -> Callable[[np.ndarray], Any]:
        detector = getattr(self._per_thread, "detector", None)
        if detector is None:
            detector = self._per_thread.detector = self._create_dlib_detector()
        return detector

    def smallest_face_px(self, width: int, height: int) -> float:
        return max(self.config.min_face_px, smallest_findable_face_px(
            width, native_face_px=self.native_face_px, min_face_px=self.config.min_face_px,
            max_width=self.config.max_width))

    def working_image(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The frame as the detector sees it, with the x and y scale actually applied."""
        height, width = rgb.shape[:2]
        scale = working_scale(
            width,
            native_face_px=self.native_face_px,
            min_face_px=self.config.min_face_px,
            max_width=self.config.max_width,
        )
        # Grayscale first: HOG ignores colour anyway, and resizing one channel is 3x cheaper.
        image = to_gray(rgb) if self.grayscale else rgb
        new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
        return resize(image, new_width, new_height), new_width / width, new_height / height

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        image, scale_x, scale_y = self.working_image(rgb)
        result = self._dlib_detector()(np.ascontiguousarray(image))
        height, width = rgb.shape[:2]
        return to_original_boxes(self._rects(result), scale_x, scale_y, width, height)
