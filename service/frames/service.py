"""Ingesting one frame: check its metadata; refuse it, or answer a repeat of its frame_id,
before any CPU is spent on it (admit); analyse it (CPU, outside any transaction); then record
it: on PostgreSQL in one statement (the admission check, the receipt claim, the bucket and the
day upserts).

Deduplication window: a frame_id is remembered for HAPPINESS_DEDUP_WINDOW_HOURS after the
frame's capture or receipt, whichever is later, and a frame with a frame_id captured longer ago
than the window is refused (422): a repeat after the window could not be told from a new frame,
so it is never counted twice. A camera that reuses frame_ids (a counter reset) gets fresh
frames counted once the earlier receipt has expired."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from service.security.keys import UNKNOWN_KEY
from service.config import Settings
from service.core.time_buckets import bucket_start_of
from service.api.errors import (Conflict, InvalidInput, PayloadTooLarge, Unauthorized, UnprocessableImage,
                            UnsupportedMediaType)
from service.frames import repository
from service.frames.schemas import Box, DetectionOut, DuplicateFrame, FrameResult
from service.api.inputs import parse_instant
from service.pauses.service import ensure_counting_allowed, problem_of
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


def check_dedup_window(meta: FrameMeta, now: datetime, settings: Settings) -> None:
    """A frame_id can be honoured only for frames captured within the dedup window."""
    window = timedelta(hours=settings.dedup_window_hours)
    if meta.frame_id is not None and meta.captured_at < now - window:
        raise InvalidInput(
            f"captured_at {meta.captured_at.isoformat()} is older than the {settings.dedup_window_hours:g}-hour "
            "deduplication window: a frame with a frame_id must be posted within that window of its "
            "capture, so that a repeat is never counted twice (HAPPINESS_DEDUP_WINDOW_HOURS sets it)")


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


def admit(session: Session, meta: FrameMeta, now: datetime) -> DuplicateFrame | None:
    """Before the image is analysed, in one read: refuse a key revoked or replaced meanwhile
    (401), answer a live repeat of its frame_id (counted before, so answered even while paused),
    else refuse a frame the camera may not count (prohibited setting, pause: the error is
    raised). The write checks all of them again in its own transaction; this spares the CPU."""
    row = repository.admission(session, meta.camera_id, meta.key_hash, meta.frame_id, meta.captured_at, now)
    if row is None or not row.key_ok:
        raise Unauthorized(UNKNOWN_KEY)
    if row.first_received_at is not None:
        return _duplicate(meta, row.first_received_at)
    problem = problem_of(session, row, meta.location_id, meta.camera_id, meta.captured_at)
    if problem is not None:
        raise problem
    return None


def record_frame(session: Session, meta: FrameMeta, analysis, settings: Settings,
                 now: datetime) -> FrameResult | DuplicateFrame:
    """Count the frame once. A frame_id this camera sent within the window is answered as a
    duplicate and adds nothing; a frame the camera may not count raises its refusal, one whose
    key was revoked meanwhile a 401."""
    result = to_result(meta, analysis, bucket_start_of(meta.captured_at, settings.bucket_minutes))
    receipt = None
    if meta.frame_id is not None:
        expires_at = max(now, meta.captured_at) + timedelta(hours=settings.dedup_window_hours)
        receipt = repository.Receipt(meta.frame_id, now, expires_at)
    counts = {"frames": 1, "faces": result.faces, "unread": result.unread, "sightings": result.faces + result.unread,
              "happy": result.happy, "not_happy": result.not_happy, **result.emotions}
    written = repository.count_frame(session, meta.location_id, meta.camera_id, result.bucket_start, counts,
                                     receipt, meta.key_hash, meta.captured_at)
    if written is repository.Written.KEY_REFUSED:
        raise Unauthorized(UNKNOWN_KEY)
    if written is repository.Written.COUNTED:
        return result
    duplicate = _duplicate_of(session, meta, now)
    if duplicate is None:
        ensure_counting_allowed(session, meta.location_id, meta.camera_id, meta.captured_at)
        raise Conflict("the location or camera changed state while the frame was written; send it again")
    return duplicate


def _duplicate_of(session: Session, meta: FrameMeta, now: datetime) -> DuplicateFrame | None:
    """The answer to a live repeat of this frame's frame_id; None when it has none."""
    if meta.frame_id is None:
        return None
    receipt = repository.live_receipt(session, meta.camera_id, meta.frame_id, now)
    return None if receipt is None else _duplicate(meta, receipt.received_at)


def _duplicate(meta: FrameMeta, first_received_at: datetime) -> DuplicateFrame:
    return DuplicateFrame(location_id=meta.location_id, camera_id=meta.camera_id, frame_id=meta.frame_id,
                          first_received_at=first_received_at)


def to_result(meta: FrameMeta, analysis, bucket_start: datetime) -> FrameResult:
    """The answer: counts, and the boxes of read and of unread faces (in memory, never stored)."""
    detections = [DetectionOut(box=box_out(d.box), label=d.label, scores={k: round(v, 4) for k, v in d.scores.items()})
                  for d in analysis.detections]
    unread_boxes = [box_out(box) for box in analysis.unread_boxes]
    return FrameResult(
        location_id=meta.location_id, camera_id=meta.camera_id, frame_id=meta.frame_id,
        captured_at=meta.captured_at, bucket_start=bucket_start, faces=analysis.faces,
        happy=analysis.happy, not_happy=analysis.not_happy, unread=len(unread_boxes),
        emotions=dict(analysis.emotions), detections=detections, unread_boxes=unread_boxes,
    )


def box_out(box) -> Box:
    """A detector's FaceBox as the API's Box."""
    return Box(top=box.top, right=box.right, bottom=box.bottom, left=box.left)
