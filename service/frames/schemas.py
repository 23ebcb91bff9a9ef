from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.api.model import ModelInfo


class Box(BaseModel):
    top: int
    right: int
    bottom: int
    left: int


class DetectionOut(BaseModel):
    box: Box = Field(description="Face box in the uploaded image's pixels (after EXIF rotation).")
    label: str = Field(description="The classifier's decision for this face.")
    scores: dict[str, float] = Field(description="Class probabilities.")


class FrameResult(BaseModel):
    location_id: int
    camera_id: int
    frame_id: str | None
    captured_at: datetime
    bucket_start: datetime = Field(description="Start (UTC) of the time bucket the counts went to.")
    faces: int = Field(description="Faces read and classified: happy + not_happy, the index's denominator.")
    happy: int
    not_happy: int
    unread: int = Field(0, description="Faces found but too small to read their expression: seen (they count "
                        "as sightings), never classified, never in faces.")
    emotions: dict[str, int]
    detections: list[DetectionOut] = Field(description="Boxes and scores of the read faces (never stored).")
    unread_boxes: list[Box] = Field(default_factory=list, description="Boxes of the unread faces (never stored).")
    model: ModelInfo | None = Field(None, description="The classifier and the face detector that read this frame.")
    duplicate: bool = Field(False, description="Always false here; a repeat is answered by DuplicateFrame.")


class DuplicateFrame(BaseModel):
    """The answer (200) to a frame_id this camera sent within the dedup window: it was counted
    then and is not counted again. Per-frame counts are not kept, so none are repeated here."""

    location_id: int
    camera_id: int
    frame_id: str
    duplicate: bool = Field(True, description="Always true.")
    first_received_at: datetime = Field(description="When the frame with this frame_id was counted.")
