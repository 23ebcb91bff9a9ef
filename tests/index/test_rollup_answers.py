"""Answers read from the daily rollup equal the answers summed straight from bucket_counts (the
15-minute buckets put into the same periods in Python), for day, week and month periods and
for the city overview, across daylight-saving changes and a time-zone change, on SQLite and
PostgreSQL."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest

from count_history import seed
from service.db.engine import make_engine, make_session_factory
from service.index import repository, service
from service.index.schemas import CityLocation, CityOverview, LocationIndex, ModelInfo
from service.locations.schemas import LocationUpdate
from service.locations.service import get_location, list_locations, update_location

MODEL = ModelInfo(name="scripted", version="test", tpr=0.9, fpr=0.1)
ZONES = ("Europe/Amsterdam", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC")
HISTORY_START = datetime(2026, 2, 20, tzinfo=UTC)
# odd start and end times, so the first and last periods are partial ranges
FROM, TO = datetime(2026, 2, 23, 13, 17, tzinfo=UTC), datetime(2026, 4, 12, 5, 0, tzinfo=UTC)


def query(bucket: str) -> service.Query:
    return service.make_query(FROM, TO, bucket, MODEL, 5, TO)


def series_from_buckets(session, location, q: service.Query):
    spans = service.spans_of(q, location)
    stored = repository.buckets_between(session, [location.id], spans[0][0], spans[-1][1])
    return service.build_series(stored, spans, q.model)


def totals(rows) -> dict[str, int]:
    return {key: sum(getattr(row, key) for row in rows) for key in ("frames", "faces", "happy", "not_happy", "sightings")}


def index_from_buckets(session, location, q: service.Query) -> LocationIndex:
    series = series_from_buckets(session, location, q)
    return LocationIndex(location_id=location.id, name=location.name, timezone=location.timezone,
                         bucket=q.bucket, start=q.start, end=q.end, model=q.model,
                         overall=service.summary_of(totals(series), q.model),
                         trend=service.trend_of(series, q.trend_min_faces), series=series)


def overview_from_buckets(session, q: service.Query) -> CityOverview:
    rows = []
    for location in list_locations(session):
        series = series_from_buckets(session, location, q)
        with_faces = [point for point in series if point.faces > 0]
        rows.append(CityLocation(location_id=location.id, name=location.name, latitude=location.latitude,
                                 longitude=location.longitude, timezone=location.timezone,
                                 range=service.summary_of(totals(series), q.model),
                                 latest_day=with_faces[-1] if with_faces else None,
                                 trend=service.trend_of(series, q.trend_min_faces)))
    return CityOverview(start=q.start, end=q.end, model=q.model,
                        overall=service.summary_of(totals([row.range for row in rows]), q.model), locations=rows)


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
                assert answer == index_from_buckets(session, location, query(bucket)), (location.timezone, bucket)
        overview = service.city_overview(session, query("day"))
        assert overview == overview_from_buckets(session, query("day"))
    assert gc.isenabled()  # the overview pauses the cycle collector only while it reads
    return overview


def test_rollup_answers_equal_bucket_sums_across_dst_changes(city):
    session_factory, _ = city
    overview = assert_same_answers(session_factory)
    assert all(row.trend.buckets >= 8 for row in overview.locations)  # the trends are really compared


def test_rollup_answers_equal_bucket_sums_after_a_time_zone_change(city):
    session_factory, places = city
    with session_factory.begin() as session:
        update_location(session, places["Europe/Amsterdam"], LocationUpdate(timezone="Pacific/Auckland"))
        update_location(session, places["UTC"], LocationUpdate(timezone="America/New_York"))
    with session_factory() as session:
        assert get_location(session, places["UTC"]).timezone == "America/New_York"
    assert_same_answers(session_factory)
