"""The happiness index of a location over a range: its counts grouped into the location's
calendar periods, each with its index, Wilson ci95 and bias-adjusted index, plus the overall
summary and the trend; and the same for every location of the city. Day, week and month
periods are whole local days and read the daily rollup; 15-minute and hour periods read the
stored UTC buckets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.orm import Session

from service.db.local_days import local_day, local_midnight
from service.db.tables import COUNT_COLUMNS, EMOTIONS, Location
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
    series = build_series(_stored(session, location, spans, query.bucket), spans, query.model)
    return LocationIndex(
        location_id=location.id, name=location.name, timezone=location.timezone, bucket=query.bucket,
        start=query.start, end=query.end, model=query.model,
        overall=summary_of(_total(series), query.model), trend=trend_of(series, query.trend_min_faces),
        series=series,
    )


def spans_of(query: Query, location: Location) -> list[tuple[datetime, datetime]]:
    return _periods(query, query.bucket, location.timezone)


def _periods(query: Query, bucket: calendar.Bucket, timezone: str) -> list[tuple[datetime, datetime]]:
    try:
        return calendar.periods(query.start, query.end, bucket, ZoneInfo(timezone))
    except ValueError as error:
        raise InvalidInput(str(error)) from error


def _stored(session: Session, location: Location, spans: list[tuple[datetime, datetime]],
            bucket: calendar.Bucket) -> list[StoredBucket]:
    """The location's counts within its periods: its buckets for sub-day periods, else its
    rollup days, each placed at its local midnight (the start of a day period, and inside the
    week or month that holds the day)."""
    start, end = spans[0][0], spans[-1][1]
    if bucket in calendar.SUB_DAY_MINUTES:
        return repository.buckets_between(session, [location.id], start, end)
    zone = ZoneInfo(location.timezone)
    rows = repository.days_between(session, [location.id], local_day(start, zone), local_day(end, zone))
    return [StoredBucket(row.location_id, local_midnight(row.day, zone), _counts_of(row)) for row in rows]


def _counts_of(row: Row) -> dict[str, int]:
    mapping = row._mapping
    return {column: mapping[column] for column in COUNT_COLUMNS}


# --- city overview ---------------------------------------------------------------------------
# A year of 100 locations is 36,500 location-days: the overview reads them in one query and
# works on the rows themselves, building a Point only for each location's latest day.

@dataclass(frozen=True)
class DayCalendar:
    """The day periods of a query in one time zone: spans, the first local day, and each day's
    trend abscissa (days since the first day's start, fractional across DST changes)."""

    spans: list[tuple[datetime, datetime]]
    first: date
    abscissas: list[float]

    @property
    def end(self) -> date:
        return self.first + timedelta(days=len(self.spans))

    def slot(self, day: date) -> int:
        return (day - self.first).days


def day_calendar(query: Query, timezone: str) -> DayCalendar:
    spans = _periods(query, "day", timezone)
    origin = spans[0][0]
    return DayCalendar(spans, local_day(origin, ZoneInfo(timezone)),
                       [(start - origin).total_seconds() / 86400 for start, _ in spans])


def city_overview(session: Session, query: Query) -> CityOverview:
    locations = list_locations(session)
    calendars = {zone: day_calendar(query, zone) for zone in {location.timezone for location in locations}}
    days = _days_by_location(session, locations, calendars)
    rows = [_city_row(location, calendars[location.timezone], days.get(location.id, []), query)
            for location in locations]
    total = _add_counts(row.range for row in rows)
    return CityOverview(start=query.start, end=query.end, model=query.model,
                        overall=summary_of(total, query.model), locations=rows)


def _days_by_location(session: Session, locations: list[Location],
                      calendars: dict[str, DayCalendar]) -> dict[int, list[Row]]:
    """Every location's rollup days within its own zone's periods, from one query."""
    if not locations:
        return {}
    first = min(c.first for c in calendars.values())
    end = max(c.end for c in calendars.values())
    zones = {location.id: calendars[location.timezone] for location in locations}
    grouped: dict[int, list[Row]] = {}
    for row in repository.days_between(session, list(zones), first, end):
        if zones[row.location_id].first <= row.day < zones[row.location_id].end:
            grouped.setdefault(row.location_id, []).append(row)
    return grouped


def _city_row(location: Location, days: DayCalendar, rows: list[Row], query: Query) -> CityLocation:
    """The same answer as summing the location's day series, from its rollup rows alone."""
    faces, happy = sum(row.faces for row in rows), sum(row.happy for row in rows)
    totals = {"frames": sum(row.frames for row in rows), "faces": faces, "happy": happy,
              "not_happy": faces - happy}
    with_faces = [row for row in rows if row.faces > 0]
    trend = [(days.abscissas[days.slot(row.day)], row.happy / row.faces) for row in rows
             if row.faces >= query.trend_min_faces]
    return CityLocation(
        location_id=location.id, name=location.name, latitude=location.latitude,
        longitude=location.longitude, timezone=location.timezone,
        range=summary_of(totals, query.model),
        latest_day=_day_point(with_faces[-1], days, query.model) if with_faces else None,
        trend=_trend_out(statistics.trend(trend)),
    )


def _day_point(row: Row, days: DayCalendar, model: ModelInfo) -> Point:
    return _point(days.spans[days.slot(row.day)], _counts_of(row), model)


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
    return Point(start=span[0], end=span[1], emotions=emotions, **_summary_fields(counts, model))


def summary_of(counts: dict[str, int], model: ModelInfo) -> Summary:
    return Summary(**_summary_fields(counts, model))


def _summary_fields(counts: dict[str, int], model: ModelInfo) -> dict:
    """The Summary fields of these counts, as keywords: building a Point from them directly
    skips a Summary model and its dump per period (a city year has 36,500 periods)."""
    core = _summarize(counts["happy"], counts["faces"], model.tpr, model.fpr)
    return dict(frames=counts["frames"], faces=core.faces, happy=core.happy, not_happy=core.not_happy,
                index=core.index, ci95=core.ci95, adjusted_index=core.adjusted_index)


@lru_cache(maxsize=1 << 16)
def _summarize(happy: int, faces: int, tpr: float, fpr: float) -> statistics.IndexSummary:
    """statistics.summarize, remembered: its Wilson interval asks scipy for the normal quantile
    on every call (about 0.2 ms), and a city year repeats the same (happy, faces) pairs often
    (6,170 distinct pairs among 36,500 synthetic location-days). The result is immutable."""
    return statistics.summarize(happy, faces, tpr, fpr)


def _total(series: list[Point]) -> dict[str, int]:
    return _add_counts(series)


def _add_counts(rows: Iterable[Summary]) -> dict[str, int]:
    """Sum the counts of summaries (or points) by attribute: no model_dump per row."""
    total = dict.fromkeys(COUNT_KEYS, 0)
    for row in rows:
        for key in COUNT_KEYS:
            total[key] += getattr(row, key)
    return total


def trend_of(series: list[Point], min_faces: int) -> TrendOut:
    """Trend over the periods with at least `min_faces` faces; x in days since the first."""
    if not series:
        return TrendOut(slope_per_day=None, p_value=None, direction="insufficient_data", buckets=0)
    origin = series[0].start
    points = [((p.start - origin).total_seconds() / 86400, p.index) for p in series
              if p.faces >= min_faces]
    return _trend_out(statistics.trend(points))


def _trend_out(result: statistics.Trend) -> TrendOut:
    return TrendOut(slope_per_day=result.slope_per_day, p_value=result.p_value,
                    direction=result.direction, buckets=result.buckets)


def make_query(start: datetime | None, end: datetime | None, bucket: calendar.Bucket,
               model: ModelInfo, trend_min_faces: int, now: datetime) -> Query:
    end = end or now
    start = start or end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput(f"`from` ({start.isoformat()}) must be before `to` ({end.isoformat()})")
    return Query(start, end, bucket, model, trend_min_faces)
