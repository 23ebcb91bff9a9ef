"""The city overview: every location's range summary, latest day and trend, and the city's
overall summary, from two queries whatever the number of locations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Row
from sqlalchemy.orm import Session

from service.calibrations.schemas import RatesOut
from service.db.local_days import local_day, local_midnight
from service.db.tables import Location
from service.index import rates as calibrations
from service.index import repository, statistics
from service.index.robust_trend import PairIndex
from service.index.schemas import CityLocation, CityOverview, Point
from service.index.statistics import Rates, Spread
from service.index.summaries import (COUNT_KEYS, DailyCounts, Query, add_counts, clusters_of, measure, points_of,
                                     summary_of, trend_of)
from service.locations.service import list_locations


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
                        overall=summary_of(add_counts(s.totals for s in sums.values()), model_rates,
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
    """A location's rows as columns (by position: a row attribute costs far more), then
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
