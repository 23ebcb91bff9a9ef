"""Request-scoped dependencies as typed aliases: one session per request that commits on
success and rolls back on error (services only flush), the settings and the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
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


def get_pipeline(request: Request) -> Any:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PipelineDep = Annotated[Any, Depends(get_pipeline)]
