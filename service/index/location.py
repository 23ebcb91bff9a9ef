"""The happiness index of one location over a range: its counts grouped into the location's
calendar periods, each with its index, ci95 and bias-adjusted index with its interval, plus the
overall summary, the usual share and the trend. Day, week and month periods are whole local
days and read the daily rollup; 15-minute and hour periods read the stored UTC buckets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from service.api.errors import InvalidInput
from service.db.local_days import local_day, local_midnight
from service.db.tables import Location
from service.index import buckets as calendar
from service.index import rates as calibrations
from service.index import repository
from service.index.repository import StoredCounts
from service.index.schemas import LocationIndex
from service.index.summaries import (CLUSTER_MINUTES, FACES, HAPPY, ClusterSource, DailyCounts, Query, clusters_of,
                                     measure, period_counts, points_of, summary_of, totals_of, trend_of, usual_of)
from service.locations.service import get_location
from service.pauses.service import mark_paused


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
