from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.security.auth import ReaderDep
from service.api.errors import Forbidden, Unauthorized, problem_responses

router = APIRouter(tags=["integrations"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text exposition format"},
                       **problem_responses(Unauthorized, Forbidden)})
def metrics(request: Request, _: ReaderDep) -> Response:
    """Prometheus metrics: frames, faces, happy and not-happy faces by location, request
    latency, pipeline stage timings and the model's name and version. Same read access as the
    index (it holds the same counts): give Prometheus the viewer token (`authorization` in the
    scrape config), or none with public read."""
    model = request.app.state.model_info
    body = generate_latest(request.app.state.metrics.scrape_registry(model.name, model.version))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
