from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from service.security.auth import ReaderDep
from service.core.emotions import EMOTIONS
from service.db.tables import utc_now
from service.api.deps import LocationId, ReadSessionDep, SettingsDep
from service.api.errors import Forbidden, InvalidInput, NotFound, Unauthorized, problem_responses
from service.index import service
from service.index.buckets import Bucket
from service.api.inputs import Instant
from service.api.csv_export import csv_response
from service.api.model import ModelInfoDep
from service.index.schemas import CityLocation, CityOverview, LocationIndex, Point, Summary

router = APIRouter(tags=["happiness index"])
ERRORS = (Unauthorized, Forbidden, InvalidInput)


def index_query(
    settings: SettingsDep, model: ModelInfoDep, reader: ReaderDep,
    start: Annotated[Instant | None, Query(alias="from", description="Range start (ISO-8601); default `to` minus 30 days.")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="Range end, exclusive (ISO-8601); default now.")] = None,
    bucket: Annotated[Bucket, Query(description="Period of each point; day, week and month follow the location's time zone.")] = "day",
) -> service.Query:
    if bucket == "15min" and settings.bucket_minutes > 15:
        raise InvalidInput(f"counts are stored in {settings.bucket_minutes}-minute buckets; use hour or coarser")
    return service.make_query(start, end, bucket, model, settings.trend_min_faces, utc_now(),
                              settings.min_published_faces, public=not reader.token)


QueryDep = Annotated[service.Query, Depends(index_query)]
FormatDep = Annotated[Literal["json", "csv"], Query(
    alias="format", description="json, or csv (text/csv with a header row) for spreadsheets and city systems.")]
CSV_RESPONSE = {200: {"content": {"text/csv": {}}, "description": "The index, as JSON or (format=csv) CSV"}}


@router.get("/locations/{location_id}/happiness-index", response_model=LocationIndex,
            response_model_by_alias=True, responses={**CSV_RESPONSE, **problem_responses(*ERRORS, NotFound)})
def location_happiness_index(location_id: LocationId, _: ReaderDep, query: QueryDep, session: ReadSessionDep,
                             output: FormatDep = "json"):
    """The location's happiness index as a time series (index, ci95, adjusted_index with its
    interval, emotions per bucket), its overall summary for the range, its trend over local days,
    the rates behind the adjusted index and where ci95's extra variation was measured. A bucket or
    range with fewer faces than HAPPINESS_MIN_PUBLISHED_FACES is `low_count`; read without a
    token (public read) its values are withheld. CSV: one row per bucket."""
    result = service.location_index(session, location_id, query)
    if output == "csv":
        return csv_response(series_rows(result), f"happiness-index-location-{location_id}.csv")
    return result


@router.get("/happiness-index", response_model=CityOverview, response_model_by_alias=True,
            responses={**CSV_RESPONSE, **problem_responses(*ERRORS)})
def city_happiness_index(_: ReaderDep, query: QueryDep, session: ReadSessionDep, output: FormatDep = "json"):
    """City overview: every location with its index for the range and for its latest day with
    faces, its trend over local days and the rates behind its adjusted index. `bucket` is ignored
    here (always day). Low-count values are withheld from public reads as in the location's
    answer. CSV: one row per location."""
    result = service.city_overview(session, query)
    if output == "csv":
        return csv_response(city_rows(result), "happiness-index-city.csv")
    return result


# --- CSV -------------------------------------------------------------------------------------
# Flat columns (ci95 split in two, one column per emotion) so that spreadsheets need no parsing;
# empty cells where JSON has null.

SUMMARY_COLUMNS = ("frames", "faces", "sightings", "unread", "happy", "not_happy", "index", "ci95_low",
                   "ci95_high", "adjusted_index", "adjusted_ci95_low", "adjusted_ci95_high", "design_effect", "low_count")


def _summary_cells(summary: Summary | None) -> list:
    if summary is None:
        return [""] * len(SUMMARY_COLUMNS)
    return [summary.frames, summary.faces, summary.sightings, summary.unread, _cell(summary.happy),
            _cell(summary.not_happy), _cell(summary.index), *_pair(summary.ci95), _cell(summary.adjusted_index),
            *_pair(summary.adjusted_ci95), _cell(summary.design_effect), str(summary.low_count).lower()]


def _pair(interval) -> tuple:
    return interval or ("", "")


def _cell(value):
    return "" if value is None else value


def series_rows(result: LocationIndex) -> list[list]:
    # emotion_ prefix: the happy emotion's count would otherwise repeat the `happy` column's name
    header = ["location_id", "location", "bucket", "start", "end", *SUMMARY_COLUMNS,
              *(f"emotion_{emotion}" for emotion in EMOTIONS), "rates_source", "rates_applied", "paused"]
    return [header, *([result.location_id, result.name, result.bucket, _iso(point.start), _iso(point.end),
                       *_summary_cells(point), *_emotion_cells(point), result.rates.source,
                       str(result.rates.applied).lower(), "true" if point.paused else "false"]
                      for point in result.series)]


def _emotion_cells(point: Point) -> list:
    return [""] * len(EMOTIONS) if point.emotions is None else [point.emotions.get(e, 0) for e in EMOTIONS]


def city_rows(result: CityOverview) -> list[list]:
    header = ["location_id", "location", "latitude", "longitude", "timezone", "from", "to",
              *SUMMARY_COLUMNS, "latest_day_start", *(f"latest_day_{c}" for c in SUMMARY_COLUMNS),
              "trend_direction", "trend_slope_per_day", "trend_slope_ci95_low", "trend_slope_ci95_high",
              "trend_p_value", "trend_unit", "rates_source", "tpr", "fpr", "rates_applied"]
    return [header, *(_city_row(row, result) for row in result.locations)]


def _city_row(row: CityLocation, result: CityOverview) -> list:
    latest: Point | None = row.latest_day
    return [row.location_id, row.name, _cell(row.latitude), _cell(row.longitude), row.timezone,
            _iso(result.start), _iso(result.end), *_summary_cells(row.range),
            _iso(latest.start) if latest else "", *_summary_cells(latest),
            row.trend.direction, _cell(row.trend.slope_per_day), *_pair(row.trend.slope_ci95),
            _cell(row.trend.p_value), row.trend.unit, row.rates.source, row.rates.tpr, row.rates.fpr,
            str(row.rates.applied).lower()]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
