"""Face boxes as detectors return them: in memory only, never stored or sent beyond one answer."""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face in original image pixels; right and bottom are exclusive, so
    image[top:bottom, left:right] is the face (the face_recognition convention).

    `score` is the detector's confidence where it gives one; `eyes` the (x, y) centres of the
    two eyes where the detector finds keypoints (for upright crops). Neither takes part in
    equality: two boxes are the same face region."""

    top: int
    right: int
    bottom: int
    left: int
    score: float | None = field(default=None, compare=False)
    eyes: tuple[Point, Point] | None = field(default=None, compare=False)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def iou(self, other: FaceBox) -> float:
        """Intersection over union of the two boxes, 0.0 when disjoint."""
        overlap_w = max(0, min(self.right, other.right) - max(self.left, other.left))
        overlap_h = max(0, min(self.bottom, other.bottom) - max(self.top, other.top))
        overlap = overlap_w * overlap_h
        union = self.width * self.height + other.width * other.height - overlap
        return overlap / union if union > 0 else 0.0
