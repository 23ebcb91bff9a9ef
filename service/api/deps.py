"""Request-scoped dependencies as typed aliases: one session per request that commits on
success and rolls back on error (services only flush), the settings and the pipeline. Endpoints
that only read take ReadSessionDep: on SQLite its transaction does not take the write lock, so
an index query runs beside ingestion instead of stopping it.

Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in a worker
thread, and those thread hops were the largest share of an ingested frame's server time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from service.config import Settings
from service.runtime.memory import release_free_memory


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    async with _request_session(request.app.state.session_factory) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    async with _request_session(request.app.state.read_session_factory) as session:
        yield session


@asynccontextmanager
async def _request_session(session_factory) -> AsyncIterator[Session]:
    """A session connects lazily, so creating it here does no I/O. The commit (or the rollback)
    runs in a worker thread, and only when a transaction is open: an endpoint that commits in
    its own worker thread, as frame ingestion does, adds no thread hop here."""
    session = session_factory()
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(_commit_and_close, session)
    except BaseException:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):  # a cancelled request must still release its connection
                await run_in_threadpool(_roll_back_and_close, session)
        raise
    finally:
        session.close()  # no I/O: the helpers above already gave the connection back


def _commit_and_close(session: Session) -> None:
    session.commit()
    session.close()


def _roll_back_and_close(session: Session) -> None:
    session.rollback()
    session.close()


async def run_analysis(request: Request, function, *args):
    """Run CPU-heavy image work in a worker thread, at most `analysis_threads` at once per
    process: more would only share the same cores while each holds a decoded frame (up to
    40 Mpx x 3 bytes), so a burst of uploads queues as small encoded bodies instead. With the
    tuned allocator the thread then hands the frame's freed memory back (service/runtime/memory.py)."""
    limiter = request.app.state.analysis_limiter
    release = request.app.state.settings.tune_allocator
    return await anyio.to_thread.run_sync(lambda: _released_after(function, args, release), limiter=limiter)


def _released_after(function, args: tuple, release: bool):
    """`function(*args)`, then (refused frames too) the allocator's free pages handed back."""
    try:
        return function(*args)
    finally:
        if release:
            release_free_memory()


async def get_pipeline(request: Request) -> Any:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit runs before the response is sent, so a failed commit is an error
# answer, never a 201 for counts that were not stored
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
PipelineDep = Annotated[Any, Depends(get_pipeline)]

# ids are 32-bit in both databases: a larger number is a 422, not a driver overflow
MAX_ID = 2_147_483_647
LocationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Location id.")]
CameraId = Annotated[int, Path(ge=1, le=MAX_ID, description="Camera id.")]
