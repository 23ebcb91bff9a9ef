from __future__ import annotations

from pydantic import BaseModel, Field

from service.frames.schemas import Box, DetectionOut


class AnalysisOut(BaseModel):
    width: int = Field(description="Image width in pixels (after EXIF rotation).")
    height: int
    faces: int
    happy: int
    not_happy: int
    unread: int = Field(0, description="Faces found but too small to read their expression: never classified.")
    emotions: dict[str, int]
    detections: list[DetectionOut]
    unread_boxes: list[Box] = Field(default_factory=list, description="Boxes of the unread faces.")
    timings_ms: dict[str, float] = Field(description="Milliseconds per pipeline stage (detect, classify).")
