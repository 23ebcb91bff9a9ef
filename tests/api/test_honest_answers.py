"""Honest numbers in the answers, on SQLite and PostgreSQL: low_count withheld from public reads
and shown (flagged) to token holders in JSON, CSV, the city overview and NGSI-LD; the rates behind
the adjusted index (model or location) and a location's calibration through the admin API; the
widened interval and the trend's new fields."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from service.db.engine import make_engine, make_session_factory
from service.frames.repository import add_counts
from service.api.model import model_info
from service.main import create_app
from support import ADMIN, VIEWER, ScriptedClassifier, ScriptedPipeline, add_camera, add_location, make_settings

RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-11T00:00:00Z"}


def seed(database_url: str, location_id: int, camera_id: int, at: datetime, happy: int, faces: int) -> None:
    counts = {"frames": 1, "faces": faces, "happy": happy, "not_happy": faces - happy, "neutral": faces - happy}
    with make_session_factory(make_engine(database_url)).begin() as session:
        add_counts(session, location_id, camera_id, at, counts)


@pytest.fixture
def public_client(database_url, tmp_path):
    settings = make_settings(database_url, tmp_path, public_read=True)
    with TestClient(create_app(settings, pipeline=ScriptedPipeline())) as client:
        yield client


@pytest.fixture
def place(public_client, database_url):
    """Ten days: 40 faces a day except day 3 (6 faces, under the publishing minimum of 10)."""
    location = add_location(public_client, "Plaza", "UTC")
    camera = add_camera(public_client, location["id"])["id"]
    for day in range(10):
        faces = 6 if day == 3 else 40
        seed(database_url, location["id"], camera, datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=day),
             faces // 2 - 1, faces)
    return location["id"]


def index_of(client, location_id, headers=None, **params):
    response = client.get(f"/locations/{location_id}/happiness-index", params={**RANGE, **params},
                          headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def test_public_read_withholds_low_count_days_and_token_holders_see_them_flagged(public_client, place):
    public, viewer = index_of(public_client, place), index_of(public_client, place, VIEWER)
    thin_public, thin_viewer = public["series"][3], viewer["series"][3]
    assert thin_public["faces"] == thin_viewer["faces"] == 6
    assert thin_public["low_count"] and thin_viewer["low_count"]
    withheld = ("happy", "not_happy", "index", "ci95", "adjusted_index", "adjusted_ci95", "design_effect", "emotions")
    assert all(thin_public[key] is None for key in withheld)
    assert thin_viewer["index"] == pytest.approx(2 / 6) and thin_viewer["emotions"]["happy"] == 2
    assert thin_viewer["ci95"] is not None and thin_viewer["adjusted_ci95"] is not None
    busy = public["series"][0]
    assert not busy["low_count"] and busy["index"] == pytest.approx(19 / 40)
    # the range still counts the withheld day's faces
    assert public["overall"]["faces"] == 366 and public["overall"]["happy"] == viewer["overall"]["happy"] == 173


def test_a_whole_range_under_the_minimum_is_withheld(public_client, database_url):
    location = add_location(public_client, "Alley", "UTC")
    camera = add_camera(public_client, location["id"])["id"]
    seed(database_url, location["id"], camera, datetime(2026, 3, 2, 9, tzinfo=UTC), 3, 4)
    overall = index_of(public_client, location["id"])["overall"]
    assert overall["low_count"] and overall["faces"] == 4 and overall["index"] is None
    assert index_of(public_client, location["id"], ADMIN)["overall"]["index"] == 0.75


def test_csv_and_city_overview_withhold_alike(public_client, place):
    rows = list(csv.DictReader(io.StringIO(public_client.get(
        f"/locations/{place}/happiness-index", params={**RANGE, "format": "csv"}).text)))
    assert rows[3]["low_count"] == "true" and rows[3]["index"] == "" and rows[3]["emotion_happy"] == ""
    assert rows[3]["faces"] == "6" and rows[0]["low_count"] == "false" and rows[0]["index"] != ""
    assert rows[0]["rates_source"] == "model"
    public = public_client.get("/happiness-index", params={"from": "2026-03-04T00:00:00Z", "to": "2026-03-05T00:00:00Z"})
    row = public.json()["locations"][0]
    assert row["range"]["low_count"] and row["range"]["index"] is None and row["latest_day"]["emotions"] is None
    viewer = public_client.get("/happiness-index", params={"from": "2026-03-04T00:00:00Z", "to": "2026-03-05T00:00:00Z"},
                               headers=VIEWER).json()["locations"][0]
    assert viewer["range"]["low_count"] and viewer["range"]["index"] == pytest.approx(2 / 6)


def test_ngsi_ld_leaves_withheld_properties_out(public_client, database_url):
    location = add_location(public_client, "Kiosk", "UTC")
    camera = add_camera(public_client, location["id"])["id"]
    seed(database_url, location["id"], camera, datetime.now(UTC) - timedelta(hours=1), 2, 5)
    public = public_client.get("/ngsi-ld/v1/entities").json()[0]
    assert public["lowCount"]["value"] is True and public["peopleCount"]["value"] == 5
    assert not {"happinessIndex", "happinessIndexCi95", "happyCount", "emotionCounts"} & set(public)
    viewer = public_client.get("/ngsi-ld/v1/entities", headers=VIEWER).json()[0]
    assert viewer["lowCount"]["value"] is True and viewer["happinessIndex"]["value"] == 0.4
    assert viewer["happinessRatesSource"]["value"] == "model"
    assert len(viewer["adjustedHappinessIndexCi95"]["value"]) == 2


def test_answers_name_the_model_rates_until_the_location_is_calibrated(public_client, place):
    before = index_of(public_client, place, VIEWER)
    assert before["rates"] == {"source": "model", "tpr": 0.9, "fpr": 0.1, "n_happy": 900, "n_other": 2700,
                               "model_version": "test", "calibrated_at": None, "stale_calibration_version": None,
                               "measured_on": "the model's validation faces", "applied": True, "note": None}
    counts = {"model_version": "test", "n_happy": 50, "happy_as_happy": 40, "n_other": 150, "other_as_happy": 30}
    stored = public_client.put(f"/locations/{place}/calibration", json=counts, headers=ADMIN)
    assert stored.status_code == 200, stored.text
    assert stored.json()["tpr"] == 0.8 and stored.json()["fpr"] == 0.2 and stored.json()["in_use"]
    after = index_of(public_client, place, VIEWER)
    assert after["rates"]["source"] == "location" and (after["rates"]["tpr"], after["rates"]["n_other"]) == (0.8, 150)
    assert after["overall"]["adjusted_index"] == pytest.approx((173 / 366 - 0.2) / 0.6)
    # 50 + 150 labelled faces pin the rates far less than the model's 3,600: a wider interval
    width = lambda body: body["overall"]["adjusted_ci95"][1] - body["overall"]["adjusted_ci95"][0]  # noqa: E731
    assert width(after) > width(before)
    city = public_client.get("/happiness-index", params=RANGE, headers=VIEWER).json()
    assert city["locations"][0]["rates"]["source"] == "location"


def not_applied(client, version: str = "test") -> None:
    """Serve the scripted model with metadata whose default_rates keep its rates from adjusting."""
    metadata = {**ScriptedClassifier.metadata, "default_rates": {
        "model_version": version, "applied": False, "happy_vs_rest_measured_on": "FER2013 validation faces",
        "note": "rates differ between in-the-wild populations"}}
    client.app.state.model_info = model_info("scripted", "test", metadata, "stub")


def test_model_rates_not_applied_leave_the_adjusted_index_null_and_say_why(public_client, place):
    not_applied(public_client)
    body = index_of(public_client, place, VIEWER)
    assert body["rates"]["source"] == "model" and body["rates"]["applied"] is False
    assert body["rates"]["measured_on"] == "FER2013 validation faces" and "in-the-wild" in body["rates"]["note"]
    assert body["overall"]["index"] == pytest.approx(173 / 366)
    assert body["overall"]["adjusted_index"] is None and body["overall"]["adjusted_ci95"] is None
    assert all(point["adjusted_index"] is None for point in body["series"])
    city = public_client.get("/happiness-index", params=RANGE, headers=VIEWER).json()
    assert city["overall"]["adjusted_index"] is None and city["locations"][0]["rates"]["applied"] is False
    entity = public_client.get("/ngsi-ld/v1/entities", headers=VIEWER).json()[0]
    assert entity["happinessRatesApplied"]["value"] is False and "adjustedHappinessIndex" not in entity
    rows = list(csv.DictReader(io.StringIO(public_client.get(
        "/happiness-index", params={**RANGE, "format": "csv"}, headers=VIEWER).text)))
    assert rows[0]["rates_applied"] == "false" and rows[0]["adjusted_index"] == ""
    public = public_client.get(f"/locations/{place}/public").text
    assert "not corrected: the model's error rates have not been measured on faces of this place" in public


def test_a_location_calibration_adjusts_where_the_model_rates_do_not(public_client, place):
    not_applied(public_client)
    counts = {"model_version": "test", "n_happy": 50, "happy_as_happy": 40, "n_other": 150, "other_as_happy": 30}
    assert public_client.put(f"/locations/{place}/calibration", json=counts, headers=ADMIN).status_code == 200
    body = index_of(public_client, place, VIEWER)
    assert body["rates"]["source"] == "location" and body["rates"]["applied"] is True
    assert body["rates"]["measured_on"] == "this location's own labelled faces"
    assert body["overall"]["adjusted_index"] == pytest.approx((173 / 366 - 0.2) / 0.6)


def test_default_rates_written_for_another_model_version_are_ignored(public_client, place):
    not_applied(public_client, version="older")
    body = index_of(public_client, place, VIEWER)
    assert body["rates"]["applied"] is True
    assert body["overall"]["adjusted_index"] == pytest.approx((173 / 366 - 0.1) / 0.8)


def test_a_calibration_for_another_model_version_is_not_used_and_is_named(public_client, place):
    counts = {"model_version": "test", "n_happy": 50, "happy_as_happy": 40, "n_other": 150, "other_as_happy": 30}
    assert public_client.put(f"/locations/{place}/calibration", json=counts, headers=ADMIN).status_code == 200
    public_client.app.state.model_info = public_client.app.state.model_info.model_copy(update={"version": "next"})
    rates = index_of(public_client, place, VIEWER)["rates"]
    assert rates["source"] == "model" and rates["stale_calibration_version"] == "test"
    calibration = public_client.get(f"/locations/{place}/calibration", headers=ADMIN).json()
    assert calibration["in_use"] is False


@pytest.mark.parametrize("counts, status, fragment", [
    ({"model_version": "other", "n_happy": 5, "happy_as_happy": 4, "n_other": 5, "other_as_happy": 1}, 422, "measure them again"),
    ({"model_version": "test", "n_happy": 5, "happy_as_happy": 6, "n_other": 5, "other_as_happy": 1}, 422, "exceed"),
    ({"model_version": "test", "n_happy": 10, "happy_as_happy": 2, "n_other": 10, "other_as_happy": 5}, 422, "tpr must exceed fpr"),
    ({"model_version": "test", "n_happy": 0, "happy_as_happy": 0, "n_other": 5, "other_as_happy": 1}, 422, "n_happy"),
])
def test_bad_calibrations_are_refused_and_change_nothing(public_client, place, counts, status, fragment):
    response = public_client.put(f"/locations/{place}/calibration", json=counts, headers=ADMIN)
    assert response.status_code == status and fragment in response.text
    assert public_client.get(f"/locations/{place}/calibration", headers=ADMIN).status_code == 404
    assert index_of(public_client, place, VIEWER)["rates"]["source"] == "model"


def test_calibration_needs_the_admin_token_and_deletes(public_client, place):
    counts = {"model_version": "test", "n_happy": 50, "happy_as_happy": 40, "n_other": 150, "other_as_happy": 30}
    assert public_client.put(f"/locations/{place}/calibration", json=counts, headers=VIEWER).status_code == 403
    assert public_client.put(f"/locations/{place}/calibration", json=counts).status_code == 401
    assert public_client.put("/locations/999/calibration", json=counts, headers=ADMIN).status_code == 404
    assert public_client.put(f"/locations/{place}/calibration", json=counts, headers=ADMIN).status_code == 200
    assert public_client.delete(f"/locations/{place}/calibration", headers=ADMIN).status_code == 204
    assert index_of(public_client, place, VIEWER)["rates"]["source"] == "model"
    assert public_client.delete(f"/locations/{place}/calibration", headers=ADMIN).status_code == 404


def test_correlated_days_widen_the_interval_and_the_answer_says_where_it_was_measured(client, database_url):
    location = add_location(client, "Market", "UTC")
    camera = add_camera(client, location["id"])["id"]
    for day in range(20):  # days alternate between 20% and 60% happy: far more spread than binomial
        seed(database_url, location["id"], camera, datetime(2026, 4, 1, 10, tzinfo=UTC) + timedelta(days=day),
             20 if day % 2 else 60, 100)
    body = client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER,
                      params={"from": "2026-04-01T00:00:00Z", "to": "2026-04-21T00:00:00Z"}).json()
    spread = body["spread"]
    assert spread["unit"] == "day" and spread["clusters"] == 20 and spread["p_value"] < 1e-6
    # residuals +-20 on 100 faces, share 0.4: dispersion = 20 * 400 / (100 * 0.24) / 19 = 17.54
    assert spread["dispersion"] == pytest.approx(20 * 400 / 24 / 19)
    assert body["overall"]["design_effect"] == pytest.approx(spread["design_effect"])
    low, high = body["overall"]["ci95"]
    assert high - low > 0.15  # plain Wilson on 2,000 faces would be 0.043 wide
    assert body["trend"]["unit"] == "day" and body["trend"]["correction"] == "weekday_ar1"
    assert body["trend"]["slope_ci95"][0] <= body["trend"]["slope_per_day"] <= body["trend"]["slope_ci95"][1]


def test_hour_buckets_trend_on_days(client, database_url):
    location = add_location(client, "Station", "UTC")
    camera = add_camera(client, location["id"])["id"]
    for day in range(10):
        for hour in (8, 12, 17):
            seed(database_url, location["id"], camera, datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=day),
                 5 + day, 30)
    body = client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER,
                      params={**RANGE, "bucket": "hour"}).json()
    assert len(body["series"]) == 240
    assert body["trend"]["unit"] == "day" and body["trend"]["buckets"] == 10 and body["trend"]["direction"] == "rising"
    assert body["trend"]["slope_per_day"] == pytest.approx(1 / 30)
    assert body["series_spread"]["unit"] in ("hour", "15min", None)


def test_the_usual_share_interval_is_given_beside_the_range_s_ci95(client, database_url):
    location = add_location(client, "Usual square", "UTC")
    camera = add_camera(client, location["id"])["id"]
    for day in range(21):  # three weeks of runs of alike days: 30% then 40% then 30% happy
        seed(database_url, location["id"], camera, datetime(2026, 4, 1, 10, tzinfo=UTC) + timedelta(days=day),
             40 if 7 <= day < 14 else 30, 100)
    params = {"from": "2026-04-01T00:00:00Z", "to": "2026-04-22T00:00:00Z"}
    body = client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER, params=params).json()
    low, high = body["usual_ci95"]
    ci_low, ci_high = body["overall"]["ci95"]
    assert low < body["overall"]["index"] < high and high - low > ci_high - ci_low
    short = client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER,
                       params={"from": "2026-04-01T00:00:00Z", "to": "2026-04-06T00:00:00Z"}).json()
    assert short["usual_ci95"] is None  # fewer than 8 days
