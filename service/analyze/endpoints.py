from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from service.analyze import service
from service.analyze.schemas import AnalysisOut
from service.security.auth import AdminDep
from service.api.deps import PipelineDep, SettingsDep, run_analysis
from service.api.errors import (Forbidden, InvalidInput, PayloadTooLarge, Unauthorized, UnprocessableImage,
                            UnsupportedMediaType, problem_responses)
from service.frames.endpoints import image_upload_body
from service.api.upload import read_upload

router = APIRouter(tags=["analyze"])


@router.post("/analyze", response_model=AnalysisOut, openapi_extra=image_upload_body(),
             responses={200: {"content": {"image/jpeg": {}},
                              "description": "The detections, or with annotate=true the image with them drawn"},
                        **problem_responses(Unauthorized, Forbidden, PayloadTooLarge, UnsupportedMediaType,
                                            UnprocessableImage, InvalidInput)})
async def analyze(
    request: Request, _: AdminDep, settings: SettingsDep, pipeline: PipelineDep,
    annotate: bool = Query(False, description="Answer a JPEG with the boxes and labels drawn."),
):
    """Faces and emotions of one uploaded image (admin), e.g. to check a camera's placement.
    Nothing is stored or counted. Send it like a frame: multipart `image` or a raw body. With
    `annotate=true` the answer is a JPEG (read faces boxed with their label, faces too small to read
    boxed in grey); its X-Faces, X-Happy, X-Not-Happy and X-Unread headers carry the counts."""
    upload = await read_upload(request, settings.max_upload_bytes)
    analysis = await run_analysis(request, service.analyze, pipeline, upload.image, settings)
    request.app.state.metrics.observe_stage_timings(analysis.result.timings_ms)
    if not annotate:
        return service.to_output(analysis)
    jpeg = await run_in_threadpool(service.annotated_jpeg, analysis)
    return Response(jpeg, media_type="image/jpeg", headers=_count_headers(analysis.result))


def _count_headers(result) -> dict[str, str]:
    return {"X-Faces": str(result.faces), "X-Happy": str(result.happy),
            "X-Not-Happy": str(result.not_happy), "X-Unread": str(result.unread), "Cache-Control": "no-store"}
