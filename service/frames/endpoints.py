from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from service.security.auth import CameraDep
from service.config import Settings
from service.db.tables import utc_now
from service.api.deps import LocationId, PipelineDep, SessionDep, SettingsDep, run_analysis
from service.api.errors import (Forbidden, InvalidInput, Locked, NotFound, PayloadTooLarge, ProhibitedLocation,
                            Unauthorized, UnprocessableImage, UnsupportedMediaType, problem_responses)
from service.frames import service
from service.frames.schemas import DuplicateFrame, FrameResult
from service.api.upload import read_upload

router = APIRouter(tags=["frames"])

def image_upload_body(**fields: dict) -> dict:
    """OpenAPI requestBody of an image upload: multipart with an `image` file and `fields`,
    or a raw image/jpeg or image/png body."""
    binary = {"type": "string", "format": "binary"}
    form = {"type": "object", "required": ["image"], "properties": {"image": binary, **fields}}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": form},
        "image/jpeg": {"schema": binary},
        "image/png": {"schema": binary},
    }}}


FRAME_BODY = image_upload_body(captured_at={"type": "string", "format": "date-time"},
                               frame_id={"type": "string", "maxLength": 128})
FORM_FIELDS = ("captured_at", "frame_id")


@router.post(
    "/locations/{location_id}/frames", status_code=201, response_model=FrameResult,
    openapi_extra=FRAME_BODY,
    responses={200: {"description": "This camera sent this frame_id within the dedup window: it was "
                                    "counted then and is not counted again", "model": DuplicateFrame},
               **problem_responses(Unauthorized, Forbidden, NotFound, PayloadTooLarge, ProhibitedLocation,
                                   UnsupportedMediaType, UnprocessableImage, InvalidInput, Locked)},
)
async def post_frame(
    location_id: LocationId, request: Request, camera: CameraDep,
    settings: SettingsDep, pipeline: PipelineDep, session: SessionDep,
    captured_at: str | None = Query(None, description="ISO-8601 time of capture; default now."),
    frame_id: str | None = Query(None, description="Camera's id for this frame; a repeat is not counted."),
) -> Response:
    """Count the faces of one camera frame (camera key). The image is analysed in memory and
    dropped: only counts are stored. Send multipart/form-data (`image`, optional `captured_at`,
    `frame_id`) or a raw image/jpeg or image/png body with those two as query parameters.
    A paused location or camera answers 423, a prohibited setting 403; a frame_id repeated
    within the dedup window answers 200 before the image is analysed."""
    upload = await read_upload(request, settings.max_upload_bytes, FORM_FIELDS)
    now = utc_now()
    meta = service.FrameMeta(
        location_id=location_id, camera_id=camera.id,
        captured_at=service.parse_captured_at(upload.fields.get("captured_at", captured_at), now, settings),
        frame_id=service.parse_frame_id(upload.fields.get("frame_id", frame_id)), key_hash=camera.key_hash,
    )
    service.check_dedup_window(meta, now, settings)
    result, timings_ms = await run_analysis(request, count_frame, request.app.state.read_session_factory,
                                            session, pipeline, upload.image, meta, settings, now)
    request.app.state.metrics.record_frame(location_id, result, timings_ms)
    if not result.duplicate:
        result = result.model_copy(update={"model": request.app.state.model_info})
    # serialised here, once: FastAPI would validate the model again before dumping it
    return Response(result.model_dump_json(), status_code=200 if result.duplicate else 201,
                    media_type="application/json")


def count_frame(read_sessions, session: Session, pipeline, image: bytes, meta: service.FrameMeta,
                settings: Settings, now: datetime) -> tuple[FrameResult | DuplicateFrame, dict[str, float]]:
    """Admit, analyse, record and commit a frame in one worker thread: one thread hop per frame
    instead of one per step. Admission reads in a read session of its own (on SQLite it never
    waits for the write lock), so a refused frame or a repeated frame_id costs no analysis.
    The commit follows the writes at once because SQLite holds its write lock (PostgreSQL its
    row locks) from the first write to the commit; committing later, in the session
    dependency's own thread hop, kept every other frame's writer waiting meanwhile. The
    recording holds the analysis slot too, for the millisecond or so it takes."""
    with read_sessions() as reading:
        duplicate = service.admit(reading, meta, now)
    if duplicate is not None:
        return duplicate, {}
    analysis = service.analyze_image(pipeline, image, settings)
    result = service.record_frame(session, meta, analysis, settings, now)
    session.commit()
    return result, analysis.timings_ms
