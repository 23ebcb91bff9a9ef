"""Answers read from the daily rollup equal the answers summed straight from bucket_counts (the
15-minute buckets put into the same periods in Python), for day, week and month periods and
for the city overview, across daylight-saving changes and a time-zone change, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from count_history import seed
from service.db.engine import make_engine, make_session_factory
from service.db.local_days import local_day
from service.index import repository, service, statistics
from service.index.location import spans_of
from service.index.summaries import DailyCounts, period_counts, points_of, summary_of, totals_of, trend_of
from service.index.schemas import CityOverview, ModelInfo, Point
from service.index.statistics import Rates, Spread
from service.locations.schemas import LocationUpdate
from service.locations.service import get_location, list_locations, update_location

MODEL = ModelInfo(name="scripted", version="test", tpr=0.9, fpr=0.1, n_happy=900, n_other=2700, detector="stub")
ZONES = ("Europe/Amsterdam", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC")
HISTORY_START = datetime(2026, 2, 20, tzinfo=UTC)
# odd start and end times, so the first and last periods are partial ranges
FROM, TO = datetime(2026, 2, 23, 13, 17, tzinfo=UTC), datetime(2026, 4, 12, 5, 0, tzinfo=UTC)


def query(bucket: str) -> service.Query:
    return service.make_query(FROM, TO, bucket, MODEL, 5, TO)


RATES = Rates(MODEL.tpr, MODEL.fpr, MODEL.n_happy, MODEL.n_other)


def local_days_from_buckets(session, location) -> dict:
    """Every stored bucket of the location summed by its local day, in Python."""
    zone, days = ZoneInfo(location.timezone), defaultdict(lambda: {"happy": 0, "faces": 0})
    stored = repository.buckets_between(session, [location.id], HISTORY_START - timedelta(days=60), TO + timedelta(days=60))
    for start, happy, faces in zip(stored.starts.tolist(), stored.column("happy").tolist(), stored.column("faces").tolist()):
        day = days[local_day(datetime.fromtimestamp(start, UTC), zone)]
        day["happy"] += happy
        day["faces"] += faces
    return days


def spread_from_buckets(days: dict, first, end) -> Spread:
    window = [counts for day, counts in days.items() if first <= day < end and counts["faces"]]
    return statistics.spread_of([c["happy"] for c in window], [c["faces"] for c in window])


def index_from_buckets(session, location, q: service.Query) -> tuple:
    """(series, overall, trend) of a day, week or month query, from the buckets alone."""
    zone = ZoneInfo(location.timezone)
    spans = spans_of(q, location)
    stored = repository.buckets_between(session, [location.id], spans[0][0], spans[-1][1])
    days = local_days_from_buckets(session, location)
    spread = spread_from_buckets(days, local_day(q.window_start, zone), local_day(q.end, zone) + timedelta(days=1))
    sums = period_counts(stored, spans)
    series = [Point(**fields) for fields in points_of(spans, sums, RATES, spread, q)]
    overall = summary_of(totals_of(sums), RATES, spread, q)
    first, end = local_day(spans[0][0], zone), local_day(spans[-1][1], zone)
    daily = {day: (c["happy"], c["faces"]) for day, c in days.items() if first <= day < end and c["faces"]}
    return series, overall, trend_of(DailyCounts.of(daily), q.trend_min_faces)


def overview_from_buckets(session, q: service.Query) -> list[tuple]:
    """(range, latest day, trend) of each location, from the buckets alone."""
    rows = []
    for location in list_locations(session):
        series, overall, trend = index_from_buckets(session, location, q)
        with_faces = [point for point in series if point.faces > 0]
        rows.append((overall, with_faces[-1] if with_faces else None, trend))
    return rows


@pytest.fixture
def city(database_url):
    session_factory = make_session_factory(make_engine(database_url))
    places = seed(session_factory, zones=ZONES, start=HISTORY_START, days=55, frames=400)
    return session_factory, places


def assert_same_answers(session_factory) -> CityOverview:
    with session_factory() as session:
        for location in list_locations(session):
            for bucket in ("day", "week", "month"):
                answer = service.location_index(session, location.id, query(bucket))
                series, overall, trend = index_from_buckets(session, location, query(bucket))
                assert (answer.series, answer.overall, answer.trend) == (series, overall, trend), (location.timezone, bucket)
        overview = service.city_overview(session, query("day"))
        expected = overview_from_buckets(session, query("day"))
        assert [(row.range, row.latest_day, row.trend) for row in overview.locations] == expected
    return overview


def test_rollup_answers_equal_bucket_sums_across_dst_changes(city):
    session_factory, _ = city
    overview = assert_same_answers(session_factory)
    assert all(row.trend.buckets >= 8 for row in overview.locations)  # the trends are really compared
    assert all(row.range.design_effect is not None for row in overview.locations)


def test_rollup_answers_equal_bucket_sums_after_a_time_zone_change(city):
    session_factory, places = city
    with session_factory.begin() as session:
        update_location(session, places["Europe/Amsterdam"], LocationUpdate(timezone="Pacific/Auckland"))
        update_location(session, places["UTC"], LocationUpdate(timezone="America/New_York"))
    with session_factory() as session:
        assert get_location(session, places["UTC"]).timezone == "America/New_York"
    assert_same_answers(session_factory)
