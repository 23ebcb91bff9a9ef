"""Ingesting one frame: check its metadata, analyse it (CPU, outside any transaction), then
record it: on PostgreSQL in one statement (the receipt claim, the bucket and the day upserts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from service.cameras.service import UNKNOWN_KEY
from service.config import Settings
from service.errors import (InvalidInput, PayloadTooLarge, Unauthorized, UnprocessableImage,
                            UnsupportedMediaType)
from service.frames import repository
from service.frames.schemas import Box, DetectionOut, FrameResult
from service.inputs import parse_instant
from service.vision.decode import decode_image
from service.vision.errors import ImageTooLarge, UndecodableImage, UnsupportedImageFormat

FRAME_ID_PATTERN = re.compile(r"[\w.:\-]{1,128}", re.ASCII)


@dataclass(frozen=True)
class FrameMeta:
    location_id: int
    camera_id: int
    captured_at: datetime
    frame_id: str | None
    key_hash: str | None = None  # the camera key it came with: counted only while still valid


def parse_captured_at(text: str | None, now: datetime, settings: Settings) -> datetime:
    """ISO-8601 time of capture (UTC when it names no zone); now when absent. It may not lie
    further in the future than the tolerance, nor before the retention window."""
    if text is None or not text.strip():
        return now
    captured = parse_instant("captured_at", text)
    if captured > now + timedelta(seconds=settings.future_tolerance_seconds):
        raise InvalidInput(f"captured_at {text} is in the future (now is {now.isoformat()})")
    if captured < now - timedelta(days=settings.retention_days):
        raise InvalidInput(f"captured_at {text} is older than the {settings.retention_days}-day retention")
    return captured


def parse_frame_id(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    if not FRAME_ID_PATTERN.fullmatch(text):  # match() with `$` let a trailing newline through
        raise InvalidInput("frame_id must be 1 to 128 characters of letters, digits, '_', '-', '.' or ':'")
    return text


def analyze_image(pipeline, image: bytes, settings: Settings):
    """Decode (straight to gray when the pipeline never looks at colour) and analyse; the bytes
    and pixels are dropped when this returns."""
    gray = getattr(pipeline, "takes_gray", False)  # stand-in pipelines of the API tests take RGB
    try:
        frame = decode_image(image, max_pixels=settings.max_image_pixels, gray=gray)
    except ImageTooLarge as error:
        raise PayloadTooLarge(str(error)) from error
    except UnsupportedImageFormat as error:
        raise UnsupportedMediaType(str(error)) from error
    except UndecodableImage as error:
        raise UnprocessableImage(f"the image cannot be decoded: {error}") from error
    return pipeline.analyze(frame)


def bucket_start_of(instant: datetime, bucket_minutes: int) -> datetime:
    width = bucket_minutes * 60
    seconds = int(instant.timestamp()) // width * width
    return datetime.fromtimestamp(seconds, UTC)


def record_frame(session: Session, meta: FrameMeta, analysis, settings: Settings,
                 now: datetime) -> FrameResult:
    """Count the frame once. A frame_id seen before from this camera answers with the stored
    first result (duplicate=True) and adds nothing."""
    result = to_result(meta, analysis, bucket_start_of(meta.captured_at, settings.bucket_minutes))
    receipt = None
    if meta.frame_id is not None:
        stored = result.model_dump(mode="json", exclude={"detections", "duplicate"})
        receipt = repository.Receipt(meta.frame_id, now, stored)
    counts = {"frames": 1, "faces": result.faces, "sightings": result.faces, "happy": result.happy,
              "not_happy": result.not_happy, **result.emotions}
    written = repository.count_frame(session, meta.location_id, meta.camera_id, result.bucket_start, counts,
                                     receipt, meta.key_hash)
    if written is repository.Written.KEY_REFUSED:
        raise Unauthorized(UNKNOWN_KEY)
    if written is repository.Written.DUPLICATE:
        return _duplicate_of(session, meta)
    return result


def _duplicate_of(session: Session, meta: FrameMeta) -> FrameResult:
    receipt = repository.get_receipt(session, meta.camera_id, meta.frame_id)
    return FrameResult(**receipt.result, detections=[], duplicate=True)


def to_result(meta: FrameMeta, analysis, bucket_start: datetime) -> FrameResult:
    detections = [
        DetectionOut(box=Box(top=d.box.top, right=d.box.right, bottom=d.box.bottom, left=d.box.left),
                     label=d.label, scores={k: round(v, 4) for k, v in d.scores.items()})
        for d in analysis.detections
    ]
    return FrameResult(
        location_id=meta.location_id, camera_id=meta.camera_id, frame_id=meta.frame_id,
        captured_at=meta.captured_at, bucket_start=bucket_start, faces=analysis.faces,
        happy=analysis.happy, not_happy=analysis.not_happy, emotions=dict(analysis.emotions),
        detections=detections,
    )
