"""The happiness index of a location over a range: its counts grouped into the location's
calendar periods, each with its index, Wilson ci95 and bias-adjusted index, plus the overall
summary and the trend; and the same for every location of the city. Day, week and month
periods are whole local days and read the daily rollup; 15-minute and hour periods read the
stored UTC buckets."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from itertools import groupby
from operator import itemgetter
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
COUNT_KEYS = ("frames", "faces", "happy", "not_happy", "sightings")


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
# A year of 100 locations is 36,500 location-days: the overview reads their totals in one query
# and works on the rows themselves (by position: a row attribute costs ten times as much), and
# reads the full counts of each location's latest day in a second one.

TREND_COLUMNS = ("frames", "faces", "happy", "sightings")


@dataclass(frozen=True)
class DayCalendar:
    """The day periods of a query in one time zone: spans, the first local day, and each day's
    trend abscissa (days since the first day's start, fractional across DST changes)."""

    spans: list[tuple[datetime, datetime]]
    first: date
    abscissas: list[float]

    @cached_property
    def end(self) -> date:
        return self.first + timedelta(days=len(self.spans))

    def span_of(self, day: date) -> tuple[datetime, datetime]:
        return self.spans[(day - self.first).days]


def day_calendar(query: Query, timezone: str) -> DayCalendar:
    spans = _periods(query, "day", timezone)
    origin = spans[0][0]
    return DayCalendar(spans, local_day(origin, ZoneInfo(timezone)),
                       [(start - origin).total_seconds() / 86400 for start, _ in spans])


@dataclass(frozen=True)
class DaySums:
    """What the overview needs of a location's day series, from one pass over its days."""

    totals: dict[str, int]
    latest_day: date | None  # the latest day with faces
    trend_points: list[tuple[float, float]]


def city_overview(session: Session, query: Query) -> CityOverview:
    locations = list_locations(session)
    calendars = {zone: day_calendar(query, zone) for zone in {location.timezone for location in locations}}
    with _collector_paused():
        sums = {location_id: _sum_days(rows, calendars[zone], query.trend_min_faces)
                for location_id, zone, rows in _days_by_location(session, locations, calendars)}
    latest = _latest_days(session, sums)
    rows = [_city_row(location, calendars[location.timezone], sums.get(location.id), latest, query)
            for location in locations]
    total = _add_counts(row.range for row in rows)
    return CityOverview(start=query.start, end=query.end, model=query.model,
                        overall=summary_of(total, query.model), locations=rows)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold Python's cycle collector while the rows and trend points are made: some 100,000
    short-lived objects in no cycle, which made it run full collections over the whole process
    on most overviews (a third of a year's overview CPU time). Re-enabled only by the call that
    paused it, so overlapping requests leave it as they found it."""
    pausing = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if pausing:
            gc.enable()


def _days_by_location(session: Session, locations: list[Location],
                      calendars: dict[str, DayCalendar]) -> Iterator[tuple[int, str, list[Row]]]:
    """(location id, zone, its rollup rows) from one query; the rows may run a day beyond the
    location's own periods at either end, where other zones' periods do."""
    if not locations:
        return
    first = min(c.first for c in calendars.values())
    end = max(c.end for c in calendars.values())
    zones = {location.id: location.timezone for location in locations}
    rows = repository.days_between(session, list(zones), first, end, TREND_COLUMNS)
    for location_id, group in groupby(rows, key=itemgetter(0)):
        yield location_id, zones[location_id], list(group)


def _sum_days(rows: list[Row], days: DayCalendar, min_faces: int) -> DaySums:
    """One pass over a location's days within its periods: totals as the sum of its day
    series, its latest day with faces, and the trend points as trend_of takes them."""
    first, end, abscissas = days.first, days.end, days.abscissas
    frames = faces = happy = sightings = 0
    latest, points = None, []
    for _, day, day_frames, day_faces, day_happy, day_sightings in rows:
        if not first <= day < end:
            continue
        frames, faces, happy = frames + day_frames, faces + day_faces, happy + day_happy
        sightings += day_sightings
        latest = day if day_faces > 0 else latest
        if day_faces >= min_faces:
            points.append((abscissas[(day - first).days], day_happy / day_faces))
    return DaySums({"frames": frames, "faces": faces, "happy": happy, "not_happy": faces - happy,
                    "sightings": sightings}, latest, points)


def _latest_days(session: Session, sums: dict[int, DaySums]) -> dict[int, Row]:
    pairs = [(location_id, s.latest_day) for location_id, s in sums.items() if s.latest_day is not None]
    return {row.location_id: row for row in repository.chosen_days(session, pairs)}


NO_DAYS = DaySums(dict.fromkeys(COUNT_KEYS, 0), None, [])


def _city_row(location: Location, days: DayCalendar, sums: DaySums | None, latest: dict[int, Row],
              query: Query) -> CityLocation:
    """The same answer as summing the location's day series (see _sum_days)."""
    sums = sums or NO_DAYS
    latest_row = latest.get(location.id)
    return CityLocation(
        location_id=location.id, name=location.name, latitude=location.latitude,
        longitude=location.longitude, timezone=location.timezone, range=summary_of(sums.totals, query.model),
        latest_day=_point(days.span_of(latest_row.day), _counts_of(latest_row), query.model) if latest_row else None,
        trend=_trend_out(statistics.trend(sums.trend_points)),
    )


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
    return dict(frames=counts["frames"], faces=core.faces, sightings=counts["sightings"], happy=core.happy,
                not_happy=core.not_happy, index=core.index, ci95=core.ci95, adjusted_index=core.adjusted_index)


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
