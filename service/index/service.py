"""The happiness index of a location over a range: stored UTC buckets grouped into the
location's calendar periods, each with its index, Wilson ci95 and bias-adjusted index, plus
the overall summary and the trend; and the same for every location of the city."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from service.db.tables import EMOTIONS, Location
from service.errors import InvalidInput
from service.index import buckets as calendar
from service.index import repository, statistics
from service.index.repository import OffsetSegment, StoredBucket
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
    stored = _stored_within(session, {location.id: spans}, {location.id: location.timezone}, query.bucket)
    series = build_series(stored, spans, query.model)
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
    zones = {location.id: location.timezone for location in locations}
    for bucket in _stored_within(session, spans, zones, "day"):
        by_location[bucket.location_id].append(bucket)
    rows = [_city_row(location, build_series(by_location[location.id], spans[location.id], query.model),
                      query) for location in locations]
    total = _add_counts(row.range for row in rows)
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


def _stored_within(session: Session, spans: dict[int, list[tuple[datetime, datetime]]],
                   zones: dict[int, str], bucket: calendar.Bucket) -> list[StoredBucket]:
    """Stored buckets of these locations within their periods. Day, week and month periods are
    whole local days, so the database sums the buckets by local day first, one query per zone;
    finer periods read the stored buckets themselves."""
    if bucket in calendar.SUB_DAY_MINUTES:
        bounds = _bounds(spans.values())
        return repository.buckets_between(session, list(spans), *bounds) if bounds else []
    stored: list[StoredBucket] = []
    for zone, location_ids in _by_zone(spans, zones).items():
        bounds = _bounds(spans[location_id] for location_id in location_ids)
        if bounds:
            segments = offset_segments(*bounds, ZoneInfo(zone))
            stored += repository.local_days_between(session, location_ids, segments, *bounds)
    return stored


def _bounds(period_lists: Iterable[list[tuple[datetime, datetime]]]) -> tuple[datetime, datetime] | None:
    """From the earliest period start to the latest period end; None without periods."""
    bounds = [(periods[0][0], periods[-1][1]) for periods in period_lists if periods]
    if not bounds:
        return None
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


def _by_zone(spans: dict[int, list], zones: dict[int, str]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for location_id in spans:
        grouped.setdefault(zones[location_id], []).append(location_id)
    return grouped


def offset_segments(start: datetime, end: datetime, zone: ZoneInfo) -> list[OffsetSegment]:
    """The zone's UTC offsets over [start, end), one segment per offset. Offsets are compared a
    day apart (zones change a few times a year at most) and each change is then found to the
    second by bisection; the scan goes on from the change, so two changes in a day are found
    too, unless the second one restores the offset of the first."""
    segments = [OffsetSegment(start, _offset(start, zone))]
    moment = start
    while moment < end:
        following = min(moment + timedelta(days=1), end)
        if _offset(following, zone) == segments[-1].offset_seconds:
            moment = following
            continue
        moment = _first_change(moment, following, zone)
        segments.append(OffsetSegment(moment, _offset(moment, zone)))
    return segments


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    return int(instant.astimezone(zone).utcoffset().total_seconds())


def _first_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second after `before` whose offset differs from before's; `after`'s does."""
    offset = _offset(before, zone)
    unchanged, changed = 0, math.ceil((after - before).total_seconds())
    while changed - unchanged > 1:
        middle = (unchanged + changed) // 2
        if _offset(before + timedelta(seconds=middle), zone) == offset:
            unchanged = middle
        else:
            changed = middle
    return before + timedelta(seconds=changed)


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
