from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from service.auth import ReaderDep
from service.db.tables import utc_now
from service.deps import LocationId, SessionDep, SettingsDep
from service.errors import Forbidden, InvalidInput, NotFound, Unauthorized, problem_responses
from service.index import service
from service.index.buckets import Bucket
from service.index.schemas import CityOverview, LocationIndex, ModelInfo

router = APIRouter(tags=["happiness index"])
ERRORS = (Unauthorized, Forbidden, InvalidInput)


def get_model_info(request: Request) -> ModelInfo:
    return request.app.state.model_info


def index_query(
    settings: SettingsDep, model: Annotated[ModelInfo, Depends(get_model_info)],
    start: Annotated[datetime | None, Query(alias="from", description="Range start (ISO-8601); default `to` minus 30 days.")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Range end, exclusive (ISO-8601); default now.")] = None,
    bucket: Annotated[Bucket, Query(description="Period of each point; day, week and month follow the location's time zone.")] = "day",
) -> service.Query:
    if bucket == "15min" and settings.bucket_minutes > 15:
        raise InvalidInput(f"counts are stored in {settings.bucket_minutes}-minute buckets; use hour or coarser")
    return service.make_query(_as_utc(start), _as_utc(end), bucket, model, settings.trend_min_faces, utc_now())


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


QueryDep = Annotated[service.Query, Depends(index_query)]


@router.get("/locations/{location_id}/happiness-index", response_model=LocationIndex,
            response_model_by_alias=True, responses=problem_responses(*ERRORS, NotFound))
def location_happiness_index(location_id: LocationId, _: ReaderDep, query: QueryDep, session: SessionDep):
    """The location's happiness index as a time series (index, ci95, adjusted_index, emotions per
    bucket), its overall summary for the range and its trend."""
    return service.location_index(session, location_id, query)


@router.get("/happiness-index", response_model=CityOverview, response_model_by_alias=True,
            responses=problem_responses(*ERRORS))
def city_happiness_index(_: ReaderDep, query: QueryDep, session: SessionDep):
    """City overview: every location with its index for the range and for its latest day with
    faces, and its trend over day buckets. `bucket` is ignored here (always day)."""
    return service.city_overview(session, query)
