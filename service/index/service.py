"""The happiness index of a location over a range: its counts grouped into the location's
calendar periods, each with its index, ci95 and bias-adjusted index with its interval, plus the
overall summary and the trend; and the same for every location of the city. Day, week and month
periods are whole local days and read the daily rollup; 15-minute and hour periods read the
stored UTC buckets.

Honest numbers (README, "What the numbers mean"): ci95 is widened by the extra variation
measured over clusters of stored rows (days; hours or buckets when too few days have faces)
in a window of at least DISPERSION_WINDOW before the range's end; the trend is tested on local
days (weeks beyond TREND_WEEKS_AFTER_DAYS days); a range or period with fewer faces than the
publishing minimum is flagged low_count and its values are withheld from public answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Row
from sqlalchemy.orm import Session

from service.index import rates as calibrations
from service.calibrations.schemas import RatesOut
from service.db.local_days import local_day, local_midnight
from service.core.emotions import EMOTIONS
from service.db.tables import Location
from service.api.errors import InvalidInput
from service.index import buckets as calendar
from service.index import repository, statistics, trend
from service.index.repository import StoredCounts
from service.api.model import ModelInfo
from service.index.schemas import CityLocation, CityOverview, LocationIndex, Point, SpreadOut, Summary, TrendOut
from service.index.statistics import Rates, Spread
from service.index.robust_trend import PairIndex
from service.locations.service import get_location, list_locations
from service.pauses.service import mark_paused

DEFAULT_RANGE = timedelta(days=30)
DISPERSION_WINDOW = timedelta(days=28)
TREND_WEEKS_AFTER_DAYS = 400
COUNT_KEYS = ("frames", "faces", "happy", "not_happy", "sightings", "unread")
CLUSTER_MINUTES = {"hour": 60, "15min": 15}


@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    bucket: calendar.Bucket
    model: ModelInfo
    trend_min_faces: int
    min_published_faces: int = 10
    public: bool = False  # read without a token: low-count values are withheld

    @property
    def window_start(self) -> datetime:
        """Where the clusters that measure extra variation begin."""
        return min(self.start, self.end - DISPERSION_WINDOW)


@dataclass(frozen=True)
class Measured:
    """The spread that was measured, with its clusters' unit and the window they came from."""

    spread: Spread
    unit: str | None
    window_from: datetime

    def out(self) -> SpreadOut:
        s = self.spread
        return SpreadOut(unit=self.unit, clusters=s.clusters, window_from=self.window_from,
                         design_effect=s.design_effect, dispersion=s.dispersion, p_value=s.p_value)


ClusterSource = tuple[str, Callable[[], tuple[list[int], list[int]]]]


def measure(sources: list[ClusterSource], window_from: datetime) -> Measured:
    """The spread of the first source (coarsest first) with enough clusters with faces; the
    finer sources are read only when needed. With too few everywhere: no widening."""
    clusters = 0
    for unit, read in sources:
        happy, faces = read()
        spread = statistics.spread_of(happy, faces)
        if spread.clusters >= statistics.MIN_CLUSTERS:
            return Measured(spread, unit, window_from)
        clusters = max(clusters, spread.clusters)
    return Measured(Spread(clusters=clusters), None, window_from)


@dataclass(frozen=True)
class DailyCounts:
    """happy and faces of the local days with faces, days as ordinals (date.toordinal), in
    order: a few arrays per location rather than a Python object per day (a city year is 36,500
    location-days, and objects that outlive a request's first moments wake the cycle collector)."""

    days: np.ndarray
    happy: np.ndarray
    faces: np.ndarray

    @classmethod
    def of(cls, counts: dict[date, tuple[int, int]]) -> DailyCounts:
        days = sorted(counts)
        return cls(np.array([day.toordinal() for day in days], np.int64),
                   np.array([counts[day][0] for day in days], np.int64),
                   np.array([counts[day][1] for day in days], np.int64))


# --- one location --------------------------------------------------------------------------------


def location_index(session: Session, location_id: int, query: Query) -> LocationIndex:
    location = get_location(session, location_id)
    spans = spans_of(query, location)
    reads = LocationReads(session, location, query, spans)
    rates, rates_out = calibrations.rates_of_locations(session, [location.id], query.model)[location.id]
    overall_spread = measure(reads.range_sources(), reads.window_from)
    series_spread = overall_spread if query.bucket not in CLUSTER_MINUTES else measure(
        reads.period_sources(), reads.window_from)
    sums = period_counts(reads.series_rows(), spans)
    daily, overall = reads.daily_counts(sums), summary_of(totals_of(sums), rates, overall_spread.spread, query)
    answer = LocationIndex(  # the points go in as plain fields, validated here at once
        location_id=location.id, name=location.name, timezone=location.timezone, bucket=query.bucket,
        start=query.start, end=query.end, model=query.model, rates=rates_out, overall=overall,
        usual_ci95=usual_of(daily, query.trend_min_faces) if overall.index is not None else None,
        trend=trend_of(daily, query.trend_min_faces),
        spread=overall_spread.out(), series_spread=series_spread.out(),
        series=points_of(spans, sums, rates, series_spread.spread, query),
    )
    mark_paused(session, location.id, answer.series)
    return answer


def spans_of(query: Query, location: Location) -> list[tuple[datetime, datetime]]:
    return _periods(query, query.bucket, location.timezone)


def _periods(query: Query, bucket: calendar.Bucket, timezone: str) -> list[tuple[datetime, datetime]]:
    try:
        return calendar.periods(query.start, query.end, bucket, ZoneInfo(timezone))
    except ValueError as error:
        raise InvalidInput(str(error)) from error


@dataclass
class LocationReads:
    """What one location's answer reads, each at most once: its rollup days over the range and
    the dispersion window, and (for 15-minute and hour periods, or when too few days have
    faces) its stored buckets over the same span."""

    session: Session
    location: Location
    query: Query
    spans: list[tuple[datetime, datetime]]
    _days: StoredCounts | None = field(default=None, repr=False)
    _buckets: StoredCounts | None = field(default=None, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.location.timezone)

    @property
    def window_from(self) -> datetime:
        """The local midnight that starts the dispersion window (as the overview's)."""
        return local_midnight(local_day(self.query.window_start, self.zone), self.zone)

    @property
    def window_to(self) -> datetime:
        """The end of the range's last local day."""
        last = local_day(self.query.end - timedelta(microseconds=1), self.zone)
        return local_midnight(last + timedelta(days=1), self.zone)

    def days(self) -> StoredCounts:
        """Rollup days from the window's first local day to the end of the last period, each
        placed at its local midnight (the start of a day period, inside a week or month)."""
        if self._days is None:
            first = local_day(min(self.spans[0][0], self.window_from), self.zone)
            end = max(self.spans[-1][1], self.window_to)
            rows = repository.days_between(self.session, [self.location.id], first,
                                           local_day(end, self.zone) + timedelta(days=1))
            self._days = StoredCounts.of_rows([(row[0], int(local_midnight(row[1], self.zone).timestamp()), *row[2:])
                                               for row in rows])
        return self._days

    def buckets(self) -> StoredCounts:
        if self._buckets is None:
            start, end = min(self.spans[0][0], self.window_from), max(self.spans[-1][1], self.window_to)
            self._buckets = repository.buckets_between(self.session, [self.location.id], start, end)
        return self._buckets

    def series_rows(self) -> StoredCounts:
        """period_counts ignores the rows before the first period (read for the window only)."""
        return self.buckets() if self.query.bucket in CLUSTER_MINUTES else self.days()

    def _clusters(self, rows: Callable[[], StoredCounts], minutes: int | None) -> tuple[np.ndarray, np.ndarray]:
        return clusters_of(rows().between(self.window_from, self.window_to), minutes)

    def range_sources(self) -> list[ClusterSource]:
        return [("day", lambda: self._clusters(self.days, None)), *self.period_sources()]

    def period_sources(self) -> list[ClusterSource]:
        sources = [("hour", lambda: self._clusters(self.buckets, 60)),
                   ("15min", lambda: self._clusters(self.buckets, None))]
        return sources[1:] if self.query.bucket == "15min" else sources

    def daily_counts(self, sums: np.ndarray) -> DailyCounts:
        """(happy, faces) of each local day of the periods: from the rollup for day periods and
        coarser, else from the periods' sums (sub-day periods nest in local days)."""
        if self.query.bucket in CLUSTER_MINUTES:
            happy, faces = sums[:, HAPPY].tolist(), sums[:, FACES].tolist()
            rows = [(span[0], happy[slot], faces[slot]) for slot, span in enumerate(self.spans) if faces[slot]]
        else:
            days = self.days().between(self.spans[0][0], self.spans[-1][1])
            rows = [(datetime.fromtimestamp(start, self.zone), happy, faces) for start, happy, faces
                    in zip(days.starts.tolist(), days.column("happy").tolist(), days.column("faces").tolist()) if faces]
        totals: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        for start, happy, faces in rows:
            day = totals[start.astimezone(self.zone).date()]
            day[0] += happy
            day[1] += faces
        return DailyCounts.of({day: (happy, faces) for day, (happy, faces) in totals.items()})


def clusters_of(rows: StoredCounts, minutes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(happy, faces) per cluster: each row, or rows summed by their UTC start floored to
    `minutes` (buckets of all cameras of a location in the same hour, say)."""
    happy, faces = rows.column("happy"), rows.column("faces")
    if minutes is None:
        return happy, faces
    _, cluster = np.unique(rows.starts // (minutes * 60), return_inverse=True)
    return np.bincount(cluster, happy).astype(np.int64), np.bincount(cluster, faces).astype(np.int64)


# --- city overview ---------------------------------------------------------------------------
# A year of 100 locations is 36,500 location-days: the overview reads their counts in one query,
# turns each location's into a few numpy arrays, and reads the full counts of each location's
# latest day in a second one.

@dataclass(frozen=True)
class DayCalendar:
    """The local days of a query in one time zone: the first of the range and of the dispersion
    window, and the day after the last (the day periods' days, without building each period)."""

    zone: ZoneInfo
    first: date
    window_first: date
    end: date

    def span_of(self, day: date) -> tuple[datetime, datetime]:
        return local_midnight(day, self.zone), local_midnight(day + timedelta(days=1), self.zone)


def day_calendar(query: Query, timezone: str) -> DayCalendar:
    zone = ZoneInfo(timezone)
    last = local_day(query.end - timedelta(microseconds=1), zone)
    return DayCalendar(zone, local_day(query.start, zone), local_day(query.window_start, zone),
                       last + timedelta(days=1))


@dataclass(frozen=True)
class DaySums:
    """What the overview needs of a location's days, from one pass over them."""

    totals: dict[str, int]
    latest_day: date | None  # the latest day with faces in the range
    daily: DailyCounts       # the range's days with faces
    window: DailyCounts      # the dispersion window's days with faces: its clusters


def city_overview(session: Session, query: Query) -> CityOverview:
    locations = list_locations(session)
    calendars = {zone: day_calendar(query, zone) for zone in {location.timezone for location in locations}}
    sums = _sum_days_by_location(session, locations, calendars)
    latest = _latest_days(session, sums)
    rates = calibrations.rates_of_locations(session, [location.id for location in locations], query.model)
    spreads = _overview_spreads(session, locations, sums, query)
    pair_index = PairIndex()  # this request's trends share one set of pair indices
    rows = [_city_row(location, calendars[location.timezone], sums.get(location.id, NO_DAYS), latest,
                      rates[location.id], spreads[location.id], query, pair_index) for location in locations]
    model_rates, _ = calibrations.model_rates(query.model)
    return CityOverview(start=query.start, end=query.end, model=query.model,
                        overall=summary_of(_add_counts(s.totals for s in sums.values()), model_rates,
                                           _city_spread(sums.values()), query),
                        locations=rows)


def _sum_days_by_location(session: Session, locations: list[Location],
                          calendars: dict[str, DayCalendar]) -> dict[int, DaySums]:
    """Each location's DaySums from one query; the rows may run a day beyond the location's own
    window at either end, where other zones' windows do."""
    if not locations:
        return {}
    first = min(c.window_first for c in calendars.values())
    end = max(c.end for c in calendars.values())
    zones = {location.id: location.timezone for location in locations}
    rows = repository.days_streamed(session, list(zones), first, end, DAY_COLUMNS)
    return {location_id: _sum_days(list(group), calendars[zones[location_id]])
            for location_id, group in groupby(rows, key=itemgetter(0))}


DAY_COLUMNS = ("frames", "faces", "happy", "sightings", "unread")


def _sum_days(rows: list[Row], days: DayCalendar) -> DaySums:
    """A location's rows as columns (by position: a row attribute costs ten times as much), then
    numpy: totals and latest day of the range, daily counts of the range and of the window."""
    _, day_column, *columns = zip(*rows)  # transposed in C
    ordinals = np.fromiter((day.toordinal() for day in day_column), np.int64, len(day_column))
    frames, faces, happy, sightings, unread = (np.array(column, np.int64) for column in columns)
    in_range = (ordinals >= days.first.toordinal()) & (ordinals < days.end.toordinal())
    counted = faces > 0
    window = counted & (ordinals >= days.window_first.toordinal()) & (ordinals < days.end.toordinal())
    daily = DailyCounts(ordinals[in_range & counted], happy[in_range & counted], faces[in_range & counted])
    range_faces, range_happy = int(daily.faces.sum()), int(daily.happy.sum())
    totals = {"frames": int(frames[in_range].sum()), "faces": range_faces, "happy": range_happy,
              "not_happy": range_faces - range_happy, "sightings": int(sightings[in_range].sum()),
              "unread": int(unread[in_range].sum())}
    latest = date.fromordinal(int(daily.days[-1])) if len(daily.days) else None
    return DaySums(totals, latest, daily, DailyCounts(ordinals[window], happy[window], faces[window]))


NO_COUNTS = DailyCounts(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
NO_DAYS = DaySums(dict.fromkeys(COUNT_KEYS, 0), None, NO_COUNTS, NO_COUNTS)


def _overview_spreads(session: Session, locations: list[Location], sums: dict[int, DaySums],
                      query: Query) -> dict[int, Spread]:
    """Each location's spread over its window's days; the few locations with too few days with
    faces are measured on their stored hours (then buckets), read in one query."""
    spreads = {location.id: statistics.spread_of(s.window.happy, s.window.faces)
               for location in locations for s in [sums.get(location.id, NO_DAYS)]}
    short = [location_id for location_id, spread in spreads.items()
             if spread.clusters < statistics.MIN_CLUSTERS and len(sums.get(location_id, NO_DAYS).window.days)]
    if short:
        buckets = repository.buckets_between(session, short, query.window_start, query.end)
        for location_id, rows in buckets.by_location():
            spreads[location_id] = measure(
                [("hour", lambda: clusters_of(rows, 60)), ("15min", lambda: clusters_of(rows, None))],
                query.window_start).spread
    return spreads


def _city_spread(sums: Iterable[DaySums]) -> Spread:
    windows = [location.window for location in sums]
    if not windows:
        return statistics.spread_of([], [])
    return statistics.spread_of(np.concatenate([w.happy for w in windows]), np.concatenate([w.faces for w in windows]))


def _latest_days(session: Session, sums: dict[int, DaySums]) -> dict[int, Row]:
    pairs = [(location_id, s.latest_day) for location_id, s in sums.items() if s.latest_day is not None]
    return {row.location_id: row for row in repository.chosen_days(session, pairs)}


def _city_row(location: Location, days: DayCalendar, sums: DaySums, latest: dict[int, Row],
              rates: tuple[Rates, RatesOut], spread: Spread, query: Query, pair_index: PairIndex) -> CityLocation:
    latest_row = latest.get(location.id)
    return CityLocation(
        location_id=location.id, name=location.name, latitude=location.latitude,
        longitude=location.longitude, timezone=location.timezone, rates=rates[1],
        range=summary_of(sums.totals, rates[0], spread, query),
        latest_day=_latest_point(days.span_of(latest_row.day), latest_row, rates[0], spread, query)
        if latest_row else None,
        trend=trend_of(sums.daily, query.trend_min_faces, pair_index),
    )


def _latest_point(span: tuple[datetime, datetime], row: Row, rates: Rates, spread: Spread, query: Query) -> Point:
    """The latest day as one period of points_of (row: location_id, day, then SUMMED)."""
    return Point(**points_of([span], np.array([row[2:]], np.int64), rates, spread, query)[0])


# --- periods and summaries -------------------------------------------------------------------------


def period_counts(stored: StoredCounts, spans: list[tuple[datetime, datetime]]) -> np.ndarray:
    """Sum stored rows into the periods `spans` (sorted, contiguous): one row per period, empty
    ones included, one column per repository.SUMMED name. Rows are assigned by their start,
    which the calendar keeps on the periods' grid; rows outside the periods (read for the
    dispersion window) are left out."""
    edges = np.array([start.timestamp() for start, _ in spans] + [spans[-1][1].timestamp()], np.float64)
    slots = np.searchsorted(edges, stored.starts, side="right") - 1
    inside = (slots >= 0) & (slots < len(spans))
    sums = np.zeros((len(spans), len(repository.SUMMED)), np.int64)
    np.add.at(sums, slots[inside], stored.counts[inside])
    return sums


def totals_of(sums: np.ndarray) -> dict[str, int]:
    """The periods' counts added up, by name."""
    return dict(zip(repository.SUMMED, sums.sum(axis=0).tolist()))


FRAMES, FACES, HAPPY, NOT_HAPPY, SIGHTINGS, UNREAD = (
    repository.SUMMED.index(name) for name in ("frames", "faces", "happy", "not_happy", "sightings", "unread"))
EMOTION_COLUMNS = [repository.SUMMED.index(emotion) for emotion in EMOTIONS]  # `happy` is an emotion too


def points_of(spans: list[tuple[datetime, datetime]], sums: np.ndarray, rates: Rates, spread: Spread,
              query: Query) -> list[dict]:
    """The Point fields of each period (its row of `sums`), every period's statistics computed
    at once; NaN (no faces, or rates that cannot adjust) becomes null, and a low-count period
    in a public answer keeps its counts of frames and faces only. One dict per period and
    little else: a year of hours is 8,760 of them."""
    stats = statistics.summarize_periods(sums[:, HAPPY], sums[:, FACES], rates, spread)
    low_counts = (sums[:, FACES] < query.min_published_faces).tolist()
    values = zip(spans, sums.tolist(), sums[:, EMOTION_COLUMNS].tolist(), low_counts, stats.index.tolist(),
                 stats.ci95_low.tolist(), stats.ci95_high.tolist(), stats.adjusted_index.tolist(),
                 stats.adjusted_low.tolist(), stats.adjusted_high.tolist())
    points = []
    for (start, end), row, emotions, low_count, index, low, high, adjusted, adjusted_low, adjusted_high in values:
        point = {"start": start, "end": end, "frames": row[FRAMES], "faces": row[FACES], "sightings": row[SIGHTINGS],
                 "unread": row[UNREAD], "low_count": low_count, "happy": None, "not_happy": None, "index": None,
                 "ci95": None, "adjusted_index": None, "adjusted_ci95": None, "design_effect": None, "emotions": None}
        points.append(point)
        if low_count and query.public:
            continue
        point["happy"], point["not_happy"], point["emotions"] = row[HAPPY], row[NOT_HAPPY], dict(zip(EMOTIONS, emotions))
        if index == index:  # NaN: no faces
            point["index"], point["ci95"], point["design_effect"] = index, (low, high), stats.design_effect
        if adjusted == adjusted:
            point["adjusted_index"], point["adjusted_ci95"] = adjusted, (adjusted_low, adjusted_high)
    return points


def summary_of(counts: dict[str, int], rates: Rates, spread: Spread, query: Query) -> Summary:
    """The Summary of a whole range: a low-count range in a public answer keeps its counts of
    frames and faces (sightings and unread beside them) only. Unread faces never enter the
    statistics: faces is their denominator."""
    faces = counts["faces"]
    low_count = faces < query.min_published_faces
    seen = {"frames": counts["frames"], "faces": faces, "sightings": counts["sightings"], "unread": counts["unread"]}
    if low_count and query.public:
        return Summary(**seen, happy=None,
                       not_happy=None, index=None, ci95=None, adjusted_index=None, adjusted_ci95=None,
                       design_effect=None, low_count=True)
    core = statistics.summarize(counts["happy"], faces, rates, spread, whole_range=True)
    return Summary(**seen, happy=core.happy,
                   not_happy=core.not_happy, index=core.index, ci95=core.ci95, adjusted_index=core.adjusted_index,
                   adjusted_ci95=core.adjusted_ci95, design_effect=core.design_effect if faces else None,
                   low_count=low_count)


def _add_counts(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(COUNT_KEYS, 0)
    for row in rows:
        for key in COUNT_KEYS:
            total[key] += row[key]
    return total


# --- trend -------------------------------------------------------------------------------------


def trend_points(daily: DailyCounts, min_faces: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(days since the first day, index) of each local day with at least `min_faces` faces, in
    order; per ISO week (at its Monday) when the days span more than TREND_WEEKS_AFTER_DAYS, so
    that the points stay bounded (a year: 365 points, 66,430 pairs, whatever the bucket)."""
    xs, ys, _, unit = trend_columns(daily, min_faces)
    return xs, ys, unit


def trend_columns(daily: DailyCounts, min_faces: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """trend_points() and the faces of each point."""
    days, happy, faces = daily.days, daily.happy, daily.faces
    if not len(days):
        return np.empty(0), np.empty(0), np.empty(0), "day"
    unit = "week" if days[-1] - days[0] >= TREND_WEEKS_AFTER_DAYS else "day"
    if unit == "week":
        mondays, week = np.unique(days - (days - 1) % 7, return_inverse=True)  # ordinal 1 is a Monday
        days, happy, faces = mondays, np.bincount(week, happy), np.bincount(week, faces)
    kept = faces >= min_faces
    return (days[kept] - days[0]).astype(np.float64), happy[kept] / faces[kept], faces[kept], unit


def trend_of(daily: DailyCounts, min_faces: int, pair_index: PairIndex | None = None) -> TrendOut:
    xs, ys, faces, unit = trend_columns(daily, min_faces)
    weekdays = trend.weekdays_of(int(daily.days[0]), xs) if unit == "day" and len(xs) else None
    result = trend.day_trend(xs, ys, weekdays, faces, pair_index=pair_index)
    return TrendOut(slope_per_day=result.slope_per_day, slope_ci95=result.slope_ci95, p_value=result.p_value,
                    direction=result.direction, buckets=result.buckets, unit=unit,
                    variance_ratio=result.variance_ratio)


def usual_of(daily: DailyCounts, min_faces: int) -> tuple[float, float] | None:
    """The usual share's interval over the days the trend reads (trend.usual_share_interval)."""
    xs, ys, faces, unit = trend_columns(daily, min_faces)
    if unit != "day" or not len(xs):
        return None
    return trend.usual_share_interval(ys, faces.astype(np.float64), trend.weekdays_of(int(daily.days[0]), xs))


def make_query(start: datetime | None, end: datetime | None, bucket: calendar.Bucket,
               model: ModelInfo, trend_min_faces: int, now: datetime, min_published_faces: int = 10,
               public: bool = False) -> Query:
    end = end or now
    start = start or end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput(f"`from` ({start.isoformat()}) must be before `to` ({end.isoformat()})")
    return Query(start, end, bucket, model, trend_min_faces, min_published_faces, public)
