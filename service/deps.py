"""Request-scoped dependencies as typed aliases: one session per request that commits on
success and rolls back on error (services only flush), the settings and the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from service.config import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def run_analysis(request: Request, function, *args):
    """Run CPU-heavy image work in a worker thread, at most `analysis_threads` at once per
    process: more would only share the same cores while each holds a decoded frame (up to
    40 Mpx x 3 bytes), so a burst of uploads queues as small encoded bodies instead."""
    limiter = request.app.state.analysis_limiter
    return await anyio.to_thread.run_sync(lambda: function(*args), limiter=limiter)


def get_pipeline(request: Request) -> Any:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit runs before the response is sent, so a failed commit is an error
# answer, never a 201 for counts that were not stored
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
PipelineDep = Annotated[Any, Depends(get_pipeline)]

# ids are 32-bit in both databases: a larger number is a 422, not a driver overflow
MAX_ID = 2_147_483_647
LocationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Location id.")]
CameraId = Annotated[int, Path(ge=1, le=MAX_ID, description="Camera id.")]
