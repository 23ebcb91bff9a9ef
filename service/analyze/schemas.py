from __future__ import annotations

from pydantic import BaseModel, Field

from service.frames.schemas import DetectionOut


class AnalysisOut(BaseModel):
    width: int = Field(description="Image width in pixels (after EXIF rotation).")
    height: int
    faces: int
    happy: int
    not_happy: int
    emotions: dict[str, int]
    detections: list[DetectionOut]
    timings_ms: dict[str, float] = Field(description="Milliseconds per pipeline stage (detect, classify).")
