"""A fake detector for benchmarks and API tests: it measures everything but detection.

Never use it to count real faces; it returns boxes whether or not a face is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from service.vision.detectors.base import Detector, DetectorConfig, FaceBox


@dataclass(frozen=True, kw_only=True)
class StubConfig(DetectorConfig):
    type: Literal["stub"] = "stub"
    faces: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.faces < 0:
            raise ValueError(f"faces must be >= 0, got {self.faces}")


class StubDetector(Detector[StubConfig]):
    """Returns `faces` equal square boxes side by side along the frame's horizontal centre
    line, each half as tall as the frame (or narrower when many must fit)."""

    type: ClassVar[str] = "stub"
    config_class: ClassVar[type[DetectorConfig]] = StubConfig

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        count = self.config.faces
        if count == 0:
            return []
        height, width = rgb.shape[:2]
        slot = width // count
        side = max(1, min(height // 2, slot * 3 // 4))
        top = (height - side) // 2
        lefts = (index * slot + (slot - side) // 2 for index in range(count))
        return [FaceBox(top=top, right=left + side, bottom=top + side, left=left) for left in lefts]
