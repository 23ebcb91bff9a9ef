"""The happiness index of a location over a range: stored UTC buckets grouped into the
location's calendar periods, each with its index, Wilson ci95 and bias-adjusted index, plus
the overall summary and the trend; and the same for every location of the city."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from service.db.tables import EMOTIONS, Location
from service.errors import InvalidInput
from service.index import buckets as calendar
from service.index import repository, statistics
from service.index.repository import StoredBucket
from service.index.schemas import (CityLocation, CityOverview, LocationIndex, ModelInfo, Point,
                                   Summary, TrendOut)
from service.locations.service import get_location, list_locations

DEFAULT_RANGE = timedelta(days=30)
COUNT_KEYS = ("frames", "faces", "happy", "not_happy")


@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    bucket: calendar.Bucket
    model: ModelInfo
    trend_min_faces: int


def location_index(session: Session, location_id: int, query: Query) -> LocationIndex:
    location = get_location(session, location_id)
    spans = spans_of(query, location)
    series = build_series(_stored_within(session, {location.id: spans}), spans, query.model)
    return LocationIndex(
        location_id=location.id, name=location.name, timezone=location.timezone, bucket=query.bucket,
        start=query.start, end=query.end, model=query.model,
        overall=summary_of(_total(series), query.model), trend=trend_of(series, query.trend_min_faces),
        series=series,
    )


def city_overview(session: Session, query: Query) -> CityOverview:
    locations = list_locations(session)
    daily = Query(query.start, query.end, "day", query.model, query.trend_min_faces)
    spans = {location.id: spans_of(daily, location) for location in locations}
    by_location = {location.id: [] for location in locations}
    for bucket in _stored_within(session, spans):
        by_location[bucket.location_id].append(bucket)
    rows = [_city_row(location, build_series(by_location[location.id], spans[location.id], query.model),
                      query) for location in locations]
    total = _add_counts(row.range.model_dump() for row in rows)
    return CityOverview(start=query.start, end=query.end, model=query.model,
                        overall=summary_of(total, query.model), locations=rows)


def _city_row(location: Location, series: list[Point], query: Query) -> CityLocation:
    with_faces = [point for point in series if point.faces > 0]
    return CityLocation(
        location_id=location.id, name=location.name, latitude=location.latitude,
        longitude=location.longitude, timezone=location.timezone,
        range=summary_of(_total(series), query.model),
        latest_day=with_faces[-1] if with_faces else None,
        trend=trend_of(series, query.trend_min_faces),
    )


def spans_of(query: Query, location: Location) -> list[tuple[datetime, datetime]]:
    try:
        return calendar.periods(query.start, query.end, query.bucket, ZoneInfo(location.timezone))
    except ValueError as error:
        raise InvalidInput(str(error)) from error


def _stored_within(session: Session, spans: dict[int, list[tuple[datetime, datetime]]]) -> list[StoredBucket]:
    """Stored buckets of these locations from the earliest period start to the latest end."""
    bounds = [(periods[0][0], periods[-1][1]) for periods in spans.values() if periods]
    if not bounds:
        return []
    start, end = min(b[0] for b in bounds), max(b[1] for b in bounds)
    return repository.buckets_between(session, list(spans), start, end)


def build_series(stored: list[StoredBucket], spans: list[tuple[datetime, datetime]],
                 model: ModelInfo) -> list[Point]:
    """Sum stored buckets into the periods `spans` (sorted, contiguous); empty periods included.
    Buckets are assigned by their start, which the calendar keeps on the periods' grid."""
    totals = [dict.fromkeys((*COUNT_KEYS, *EMOTIONS), 0) for _ in spans]
    starts = [start for start, _ in spans]
    for bucket in stored:
        slot = calendar.locate(starts, bucket.start)
        if slot >= 0 and bucket.start < spans[slot][1]:
            _add_into(totals[slot], bucket.counts)
    return [_point(span, counts, model) for span, counts in zip(spans, totals)]


def _add_into(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] += value


def _point(span: tuple[datetime, datetime], counts: dict[str, int], model: ModelInfo) -> Point:
    emotions = {emotion: counts[emotion] for emotion in EMOTIONS}  # `happy` is also the emotion
    return Point(start=span[0], end=span[1], emotions=emotions,
                 **summary_of(counts, model).model_dump())


def summary_of(counts: dict[str, int], model: ModelInfo) -> Summary:
    core = statistics.summarize(counts["happy"], counts["faces"], model.tpr, model.fpr)
    return Summary(frames=counts["frames"], faces=core.faces, happy=core.happy,
                   not_happy=core.not_happy, index=core.index, ci95=core.ci95,
                   adjusted_index=core.adjusted_index)


def _total(series: list[Point]) -> dict[str, int]:
    return _add_counts(point.model_dump() for point in series)


def _add_counts(rows: Iterable[dict]) -> dict[str, int]:
    total = dict.fromkeys(COUNT_KEYS, 0)
    for row in rows:
        for key in COUNT_KEYS:
            total[key] += row[key]
    return total


def trend_of(series: list[Point], min_faces: int) -> TrendOut:
    """Trend over the periods with at least `min_faces` faces; x in days since the first."""
    if not series:
        return TrendOut(slope_per_day=None, p_value=None, direction="insufficient_data", buckets=0)
    origin = series[0].start
    points = [((p.start - origin).total_seconds() / 86400, p.index) for p in series
              if p.faces >= min_faces]
    result = statistics.trend(points)
    return TrendOut(slope_per_day=result.slope_per_day, p_value=result.p_value,
                    direction=result.direction, buckets=result.buckets)


def make_query(start: datetime | None, end: datetime | None, bucket: calendar.Bucket,
               model: ModelInfo, trend_min_faces: int, now: datetime) -> Query:
    end = end or now
    start = start or end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput(f"`from` ({start.isoformat()}) must be before `to` ({end.isoformat()})")
    return Query(start, end, bucket, model, trend_min_faces)
