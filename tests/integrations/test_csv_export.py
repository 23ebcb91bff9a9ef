"""format=csv on both index endpoints, parsed back with the csv module."""

import csv
import io
from datetime import UTC, datetime, timedelta

from support import ADMIN, VIEWER, add_camera, add_location, bearer, jpeg_bytes

EMOTIONS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def post_frame(client, location_id, key, captured_at: datetime):
    response = client.post(f"/locations/{location_id}/frames", content=jpeg_bytes(),
                           params={"captured_at": captured_at.isoformat()},
                           headers={**bearer(key), "Content-Type": "image/jpeg"})
    assert response.status_code == 201, response.text


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def test_location_csv_has_a_row_per_bucket_with_the_json_values(client):
    location = add_location(client, "Dam Square", "UTC")
    key = add_camera(client, location["id"])["api_key"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for _ in range(2):  # the scripted pipeline sees one happy and one sad face per frame
        post_frame(client, location["id"], key, hour + timedelta(minutes=5))
    params = {"from": (hour - timedelta(hours=1)).isoformat(), "to": (hour + timedelta(hours=2)).isoformat(),
              "bucket": "hour"}
    rows = read_csv(client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER,
                               params={**params, "format": "csv"}))
    as_json = client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER, params=params).json()
    assert len(rows) == len(as_json["series"]) == 3
    assert list(rows[0]) == ["location_id", "location", "bucket", "start", "end", "frames", "faces", "sightings",
                             "unread", "happy", "not_happy", "index", "ci95_low", "ci95_high", "adjusted_index",
                             "adjusted_ci95_low", "adjusted_ci95_high", "design_effect", "low_count",
                             *(f"emotion_{e}" for e in EMOTIONS), "rates_source", "rates_applied", "paused"]
    empty, counted = rows[0], rows[1]
    assert empty["paused"] == counted["paused"] == "false"
    assert (empty["faces"], empty["index"], empty["ci95_low"]) == ("0", "", "")
    assert (counted["frames"], counted["faces"], counted["happy"], counted["not_happy"]) == ("2", "4", "2", "2")
    assert (counted["sightings"], counted["unread"]) == ("4", "0")  # every face read: its faces are its sightings
    assert float(counted["index"]) == as_json["series"][1]["index"] == 0.5
    assert [float(counted["ci95_low"]), float(counted["ci95_high"])] == as_json["series"][1]["ci95"]
    assert (counted["emotion_happy"], counted["emotion_sad"], counted["emotion_neutral"]) == ("2", "2", "0")
    assert counted["location"] == "Dam Square" and counted["bucket"] == "hour"
    assert counted["low_count"] == "true" and counted["rates_source"] == "model"  # 4 faces, read with a token
    assert counted["rates_applied"] == "true"
    assert [float(counted["adjusted_ci95_low"]), float(counted["adjusted_ci95_high"])] == as_json["series"][1]["adjusted_ci95"]
    assert datetime.fromisoformat(counted["start"]) == hour


def test_city_csv_has_a_row_per_location(client):
    counted = add_location(client, "Museum Square", "Europe/Amsterdam", latitude=52.358, longitude=4.881)
    add_location(client, "Quiet Park", "UTC")
    key = add_camera(client, counted["id"])["api_key"]
    post_frame(client, counted["id"], key, datetime.now(UTC) - timedelta(hours=1))
    rows = read_csv(client.get("/happiness-index", headers=VIEWER, params={"format": "csv"}))
    by_name = {row["location"]: row for row in rows}
    assert set(by_name) == {"Museum Square", "Quiet Park"}
    museum, park = by_name["Museum Square"], by_name["Quiet Park"]
    assert (museum["latitude"], museum["longitude"], museum["faces"], museum["index"]) == ("52.358", "4.881", "2", "0.5")
    assert museum["latest_day_faces"] == "2" and museum["trend_direction"] == "insufficient_data"
    assert (museum["sightings"], museum["latest_day_sightings"]) == ("2", "2")
    assert (museum["rates_source"], museum["trend_unit"], museum["low_count"]) == ("model", "day", "true")
    assert (park["faces"], park["index"], park["latest_day_start"], park["latitude"]) == ("0", "", "", "")


def test_unknown_format_is_a_readable_422(client):
    response = client.get("/happiness-index", headers=ADMIN, params={"format": "xml"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "format" in response.json()["detail"]


def test_csv_needs_the_same_read_access(client):
    response = client.get("/happiness-index", params={"format": "csv"})
    assert response.status_code == 401
