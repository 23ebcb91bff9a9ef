"""The happiness-index endpoints on real databases, with counts written by the real upsert."""

from datetime import UTC, datetime, timedelta

import pytest

from service.db.engine import make_engine, make_session_factory
from service.frames.repository import add_counts
from support import ADMIN, VIEWER, add_camera, add_location


def seed(database_url: str, location_id: int, camera_id: int, at: datetime, happy: int, faces: int):
    session_factory = make_session_factory(make_engine(database_url))
    counts = {"frames": 1, "faces": faces, "happy": happy, "not_happy": faces - happy,
              "neutral": faces - happy}
    with session_factory.begin() as session:
        add_counts(session, location_id, camera_id, at, counts)


@pytest.fixture
def place(client):
    location = add_location(client, "Monas", "Asia/Jakarta", latitude=-6.175, longitude=106.827)
    return location["id"], add_camera(client, location["id"])["id"]


def get_index(client, location_id, **params):
    response = client.get(f"/locations/{location_id}/happiness-index", params=params, headers=VIEWER)
    assert response.status_code == 200, response.text
    return response.json()


def test_day_buckets_follow_the_location_time_zone(client, database_url, place):
    location_id, camera_id = place
    # 16:45 UTC is 23:45 in Jakarta; 17:00 UTC is already the next Jakarta day
    seed(database_url, location_id, camera_id, datetime(2026, 6, 1, 16, 45, tzinfo=UTC), 3, 4)
    seed(database_url, location_id, camera_id, datetime(2026, 6, 1, 17, 0, tzinfo=UTC), 1, 4)
    body = get_index(client, location_id, **{"from": "2026-06-01T00:00:00+07:00",
                                             "to": "2026-06-03T00:00:00+07:00", "bucket": "day"})
    assert [p["faces"] for p in body["series"]] == [4, 4]
    assert [p["index"] for p in body["series"]] == [0.75, 0.25]
    assert body["series"][0]["start"].startswith("2026-05-31T17:00:00")
    utc_day = get_index(client, location_id, **{"from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z",
                                                 "bucket": "hour"})
    assert sum(p["faces"] for p in utc_day["series"]) == 8


def test_overall_summary_ci95_and_adjusted_index(client, database_url, place):
    location_id, camera_id = place
    seed(database_url, location_id, camera_id, datetime.now(UTC) - timedelta(days=1), 8, 10)
    overall = get_index(client, location_id)["overall"]
    assert (overall["faces"], overall["happy"], overall["not_happy"]) == (10, 8, 2)
    assert overall["index"] == pytest.approx(0.8)
    assert overall["ci95"] == pytest.approx([0.4902, 0.9433], abs=1e-4)
    # scripted model: tpr 0.9, fpr 0.1 -> (0.8 - 0.1) / 0.8
    assert overall["adjusted_index"] == pytest.approx(0.875)


def test_empty_buckets_have_null_index_and_trend_needs_eight_buckets(client, place):
    body = get_index(client, place[0], bucket="day")
    assert len(body["series"]) in (30, 31)
    assert all(p["index"] is None and p["ci95"] is None for p in body["series"])
    assert body["trend"]["direction"] == "insufficient_data"


def test_rising_trend_over_ten_days(client, database_url, place):
    location_id, camera_id = place
    start = datetime(2026, 3, 1, 5, tzinfo=UTC)
    for day in range(10):
        seed(database_url, location_id, camera_id, start + timedelta(days=day), 20 + 5 * day, 100)
    trend = get_index(client, location_id, **{"from": "2026-03-01T00:00:00Z", "to": "2026-03-11T00:00:00Z"})["trend"]
    assert trend["direction"] == "rising" and trend["buckets"] == 10
    assert trend["slope_per_day"] == pytest.approx(0.05)
    assert trend["p_value"] < 0.001


def test_cameras_of_a_location_are_summed(client, database_url, place):
    location_id, camera_id = place
    other_camera = add_camera(client, location_id, "second")["id"]
    at = datetime.now(UTC) - timedelta(hours=1)
    seed(database_url, location_id, camera_id, at, 1, 2)
    seed(database_url, location_id, other_camera, at, 2, 2)
    assert get_index(client, location_id)["overall"]["faces"] == 4


def test_city_overview_lists_every_location_with_its_latest_day(client, database_url, place):
    location_id, camera_id = place
    quiet = add_location(client, "Quiet park")
    seed(database_url, location_id, camera_id, datetime.now(UTC) - timedelta(days=3), 1, 4)
    seed(database_url, location_id, camera_id, datetime.now(UTC) - timedelta(hours=1), 3, 4)
    response = client.get("/happiness-index", headers=VIEWER)
    assert response.status_code == 200
    body = response.json()
    rows = {row["name"]: row for row in body["locations"]}
    assert rows["Monas"]["range"]["faces"] == 8 and rows["Monas"]["latest_day"]["index"] == 0.75
    assert rows["Quiet park"]["latest_day"] is None and rows["Quiet park"]["range"]["index"] is None
    assert body["overall"]["faces"] == 8 and quiet["id"] in {r["location_id"] for r in body["locations"]}


@pytest.mark.parametrize("params, fragment", [
    ({"bucket": "fortnight"}, "bucket"),
    ({"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, "must be before"),
    ({"from": "not-a-date"}, "from"),
    ({"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "bucket": "15min"}, "coarser"),
])
def test_bad_query_parameters_are_422(client, place, params, fragment):
    response = client.get(f"/locations/{place[0]}/happiness-index", params=params, headers=ADMIN)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_unknown_location_is_404(client):
    response = client.get("/locations/4242/happiness-index", headers=ADMIN)
    assert response.status_code == 404 and response.json()["title"] == "Not found"
