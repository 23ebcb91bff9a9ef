"""The FastAPI application: create_app() wires settings, the database engine, the vision
pipeline (loaded once per process), the routers and the problem+json error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import text

from service import __version__
from service.analyze.endpoints import router as analyze_router
from service.audit.endpoints import router as audit_router
from service.security.request_id import RequestIdMiddleware
from service.audit.service import record_settings
from service.security.auth import CameraKeyCache
from service.cameras.endpoints import router as cameras_router
from service.config import Settings
from service.dashboard.endpoints import install_dashboard
from service.db.engine import make_engine, make_read_session_factory, make_session_factory, read_only
from service.retention.maintenance import start_background_prune
from service.db.migrate import ensure_migrated
from service.api.errors import install_error_handlers, problem_response
from service.frames.endpoints import router as frames_router
from service.index.endpoints import router as index_router
from service.calibrations.endpoints import router as calibrations_router
from service.api.model import ModelInfo, model_info
from service.locations.endpoints import router as locations_router
from service.security.ratelimit import RateLimiter
from service.metrics.endpoints import router as metrics_router
from service.metrics import ServiceMetrics
from service.metrics.middleware import RequestLatencyMiddleware
from service.ngsi.endpoints import router as ngsi_router
from service.docs.endpoints import install_docs
from service.notice.endpoints import router as notice_router
from service.runtime.memory import freeze_startup_objects, tune_allocator
from service.observations.endpoints import router as observations_router
from service.pauses.endpoints import router as pauses_router
from service.security.bodies import RequestBodyGuard, body_limits
from service.security.headers import SecurityHeadersMiddleware
from service.security.throttle import FailedAuthThrottle
from service.vision.pipeline import build_pipeline as vision_pipeline

log = logging.getLogger(__name__)

DESCRIPTION = """Counts happy faces at registered city locations from camera frames (or people
counted by edge agents from video) and serves the **happiness index** (share of happy faces)
with its 95% interval, a bias-adjusted value and a trend. Images are analysed in memory and
dropped: only counts are stored.

Auth: `Authorization: Bearer <token>` with the admin or viewer token; cameras use their own key
(`Bearer` or `X-API-Key`), valid only for posting frames or observations to their own location."""


def build_pipeline(settings: Settings):
    """The real detector + classifier that these settings name (service.vision.pipeline)."""
    return vision_pipeline(settings.model_dir, settings.detector, min_face_px=settings.min_face_px,
                           max_width=settings.max_working_width,
                           min_readable_face_px=settings.min_readable_face_px)


def model_info_of(pipeline) -> ModelInfo:
    classifier = pipeline.classifier
    return model_info(classifier.name, classifier.version, classifier.metadata, pipeline.detector.type)


def create_app(settings: Settings | None = None, pipeline=None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            pruning = start(app)
        except Exception as error:  # uvicorn logs the traceback; the operator's line comes first
            log.error("cannot start: %s", " ".join(str(error).split())[:500])
            raise
        yield
        if pruning:
            pruning.cancel()
        app.state.engine.dispose()

    def start(app: FastAPI):
        """Everything a worker needs before it serves; answers the background prune's handle."""
        if settings.tune_allocator:
            tune_allocator()
        engine = make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size_per_worker,
                             max_overflow=settings.db_max_overflow)
        ensure_migrated(engine, settings.resolved_database_url)
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.read_session_factory = make_read_session_factory(engine)
        app.state.camera_keys = CameraKeyCache()
        app.state.camera_keys.watch(app.state.session_factory)
        app.state.rate_limiter = RateLimiter(settings.camera_rate_per_minute, settings.camera_burst)
        app.state.auth_throttle = FailedAuthThrottle(settings.auth_failures_per_minute)
        app.state.analysis_limiter = anyio.CapacityLimiter(settings.analysis_threads)
        app.state.pipeline = pipeline or build_pipeline(settings)
        app.state.model_info = model_info_of(app.state.pipeline)
        log.info("ready: database %s (pool %d + %d overflow), model %s, detector %s",
                 engine.url.render_as_string(hide_password=True), settings.db_pool_size_per_worker,
                 settings.db_max_overflow, app.state.model_info.name, app.state.model_info.detector)
        with app.state.session_factory.begin() as session:
            record_settings(session, settings)
        pruning = start_background_prune(app.state.session_factory, settings)
        if settings.freeze_startup_objects:
            freeze_startup_objects()
        return pruning

    app = FastAPI(title="Happiness Index Service", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.state.metrics = ServiceMetrics()
    app.add_middleware(RequestBodyGuard, **body_limits(settings))
    app.add_middleware(RequestLatencyMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
                           expose_headers=["X-Request-ID"])
    app.add_middleware(SecurityHeadersMiddleware)
    for router in (locations_router, cameras_router, frames_router, observations_router, index_router,
                   analyze_router, ngsi_router, metrics_router, calibrations_router, pauses_router, audit_router,
                   notice_router):
        app.include_router(router)
    _add_health_routes(app)
    install_dashboard(app)
    install_docs(app)
    return app


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["health"])
    async def health(request: Request) -> dict:
        """Alive: the process answers. `bucket_minutes`: the width of the stored buckets, which
        edge devices align their observations to; `detector`: the face detector in use."""
        state = request.app.state
        return {"status": "ok", "bucket_minutes": state.settings.bucket_minutes, "detector": state.model_info.detector}

    @app.get("/ready", tags=["health"])
    def ready(request: Request):
        """Ready: the database answers and is migrated, and the model is loaded."""
        state = request.app.state
        try:
            ensure_migrated(state.engine, state.settings.resolved_database_url)
            with read_only(state.engine).connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            # the driver's text names the host, port and database: it goes to the log, not to
            # whoever asks (the probe needs no token)
            log.warning("not ready: the database check failed", exc_info=True)
            return problem_response(503, "Not ready", "the database is unavailable or not migrated; "
                                    "see the service's log", headers={"Retry-After": "5"})
        return {"status": "ready", "model": state.model_info.model_dump()}
