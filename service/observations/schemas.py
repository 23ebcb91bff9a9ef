"""The observations API: counts of people that an edge device (our agent or any other) made from
a video stream, per time bucket, sent in batches with an id so that a re-sent batch is answered,
not counted again."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.core.emotions import EMOTIONS
from service.api.inputs import Instant

MAX_OBSERVATIONS = 1000
# per observation and field; a whole batch then stays far below the 32-bit count columns
MAX_COUNT = 1_000_000
BATCH_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
Count = Field(0, ge=0, le=MAX_COUNT)

EXAMPLE_OBSERVATION = {
    "start": "2026-12-03T09:15:00Z", "end": "2026-12-03T09:30:00Z", "people": 12, "happy": 5,
    "emotions": {"angry": 0, "disgust": 0, "fear": 1, "happy": 5, "neutral": 4, "sad": 2, "surprise": 0},
    "unread": 3, "sightings": 214, "frames": 4500,
}


class EmotionCounts(BaseModel):
    """People per expression; classes left out count 0, unknown classes are refused."""

    model_config = ConfigDict(extra="forbid")

    angry: int = Count
    disgust: int = Count
    fear: int = Count
    happy: int = Count
    neutral: int = Count
    sad: int = Count
    surprise: int = Count


assert tuple(EmotionCounts.model_fields) == EMOTIONS


class Observation(BaseModel):
    """What a device saw in [start, end), a span inside one of the server's buckets (see
    `GET /health` for their width in minutes)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_OBSERVATION]})

    start: Instant = Field(description="Start of the span (ISO-8601; UTC when no zone is given).")
    end: Instant = Field(description="End of the span, exclusive, after `start` and no later "
                         "than the end of `start`'s bucket.")
    people: int = Field(ge=0, le=MAX_COUNT, description="People counted: each person (a finished "
                        "track) once, however many frames showed them. The index's faces.")
    happy: int = Field(ge=0, le=MAX_COUNT, description="People whose expression was happy; at "
                       "most `people`, and equal to `emotions.happy`.")
    emotions: EmotionCounts = Field(description="People per expression; they add up to `people`.")
    unread: int = Field(0, ge=0, le=MAX_COUNT, description="People seen whose every face was too small to "
                        "read their expression: counted as seen, never in `people` (the index's faces). "
                        "Default 0.")
    sightings: int = Field(ge=0, le=MAX_COUNT, description="Faces detected in all analysed frames of "
                           "the span, read or not; at least `people` + `unread`.")
    frames: int = Field(ge=0, le=MAX_COUNT, description="Frames analysed in the span; at least 1 "
                        "when there were sightings.")


class ObservationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"batch_id": "agent-7f3a-000123", "observations": [EXAMPLE_OBSERVATION]}]})

    batch_id: str = Field(pattern=BATCH_ID_PATTERN, description="The device's id for this batch: "
                          "1 to 128 letters, digits, '_', '-', '.' or ':'. The same id from the same "
                          "camera again is answered with the first result and not counted again.")
    observations: list[Observation] = Field(min_length=1, max_length=MAX_OBSERVATIONS)


class BucketAccepted(BaseModel):
    bucket_start: datetime = Field(description="Start (UTC) of the server bucket the counts went to.")
    observations: int
    people: int
    happy: int
    not_happy: int
    unread: int = 0
    sightings: int
    frames: int


class BatchResult(BaseModel):
    batch_id: str
    location_id: int
    camera_id: int
    observations: int = Field(description="Observations accepted.")
    people: int
    happy: int
    not_happy: int
    unread: int = Field(0, description="People seen but never readable (not in people).")
    sightings: int
    frames: int
    buckets: list[BucketAccepted] = Field(description="What each server bucket received.")
    duplicate: bool = Field(False, description="True when this batch_id was counted before: "
                            "the first answer, nothing counted now.")
