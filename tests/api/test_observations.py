"""POST /locations/{id}/observations on SQLite and PostgreSQL: counts of people from edge
agents land in their buckets once, and every inconsistent batch is refused whole."""

from datetime import UTC, datetime, timedelta

import pytest

from support import ADMIN, add_camera, add_location, bearer, commits_failing, make_settings

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
BUCKET = timedelta(minutes=15)


def bucket_ago(buckets: int) -> datetime:
    """The start of the 15-minute bucket `buckets` buckets before the current one."""
    now = datetime.now(UTC)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) - buckets * BUCKET


def observation(start: datetime | None = None, minutes: int = 15, people: int = 4, happy: int = 1,
                sightings: int = 40, frames: int = 100, **emotions: int) -> dict:
    start = start or bucket_ago(2)
    counts = emotions or {"happy": happy, "neutral": people - happy}
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat(),
            "people": people, "happy": happy, "emotions": counts, "sightings": sightings, "frames": frames}


@pytest.fixture
def camera(client):
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def post(client, camera, observations: list[dict], batch_id: str = "batch-1", key: str | None = None):
    return client.post(f"/locations/{camera['location_id']}/observations",
                       json={"batch_id": batch_id, "observations": observations},
                       headers=bearer(key or camera["api_key"]))


def overall(client, camera, **params) -> dict:
    response = client.get(f"/locations/{camera['location_id']}/happiness-index", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    return response.json()["overall"]


def test_a_batch_is_counted_in_its_buckets_with_people_as_faces(client, camera):
    first, second = bucket_ago(3), bucket_ago(1)
    observations = [observation(first, people=4, happy=1, sightings=40, frames=100),
                    observation(first + timedelta(minutes=5), minutes=10, people=2, happy=2, sightings=6, frames=50),
                    observation(second, people=3, happy=0, sightings=9, frames=20, sad=2, angry=1)]
    response = post(client, camera, observations)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["observations"], body["people"], body["happy"], body["not_happy"]) == (3, 9, 3, 6)
    assert (body["sightings"], body["frames"], body["duplicate"]) == (55, 170, False)
    assert [(datetime.fromisoformat(b["bucket_start"]), b["observations"], b["people"], b["sightings"])
            for b in body["buckets"]] == [(first, 2, 6, 46), (second, 1, 3, 9)]
    summary = overall(client, camera)
    assert (summary["faces"], summary["happy"], summary["not_happy"]) == (9, 3, 6)
    assert (summary["sightings"], summary["frames"]) == (55, 170)
    series = client.get(f"/locations/{camera['location_id']}/happiness-index", headers=ADMIN,
                        params={"bucket": "15min", "from": first.isoformat(),
                                "to": (second + BUCKET).isoformat()}).json()["series"]
    assert [(p["faces"], p["sightings"], p["emotions"]["sad"]) for p in series] == [(6, 46, 0), (0, 0, 0), (3, 9, 2)]


def test_the_same_batch_again_answers_the_first_result_and_counts_nothing(client, camera):
    first = post(client, camera, [observation(people=4, happy=1)])
    again = post(client, camera, [observation(people=7, happy=7, sightings=70)])  # same id, other counts
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    assert overall(client, camera)["faces"] == 4


def test_another_camera_may_use_the_same_batch_id(client, camera):
    other = add_camera(client, camera["location_id"], "second")
    assert post(client, camera, [observation(people=4)]).status_code == 201
    assert post(client, camera, [observation(people=2, happy=0)], key=other["api_key"]).status_code == 201
    assert overall(client, camera)["faces"] == 6


def test_a_posted_frame_counts_each_face_as_one_sighting(client, camera):
    from support import jpeg_bytes

    response = client.post(f"/locations/{camera['location_id']}/frames", content=jpeg_bytes(),
                           headers={"Content-Type": "image/jpeg", **bearer(camera["api_key"])})
    assert response.status_code == 201
    summary = overall(client, camera)
    assert (summary["faces"], summary["sightings"]) == (2, 2)


def wrong(**changes) -> dict:
    return {**observation(), **changes}


def old_span() -> dict:
    start = bucket_ago(366 * 96)  # 366 days ago
    return wrong(start=start.isoformat(), end=(start + BUCKET).isoformat())


def future_span() -> dict:
    start = bucket_ago(-1)  # the next bucket: starts within 15 minutes, ends up to 30 minutes ahead
    return wrong(start=start.isoformat(), end=(start + BUCKET).isoformat())


INVALID = {
    "happy above people": (lambda: wrong(happy=5, emotions={"happy": 5}), "observations.1.happy"),
    "emotions not adding up": (lambda: wrong(emotions={"happy": 1, "sad": 1}), "observations.1.emotions"),
    "emotions.happy not happy": (lambda: wrong(emotions={"happy": 2, "sad": 2}), "observations.1.emotions.happy"),
    "unknown emotion": (lambda: wrong(emotions={"happy": 1, "neutral": 2, "bored": 1}), "observations.1.emotions.bored"),
    "negative people": (lambda: wrong(people=-1), "observations.1.people"),
    "negative sightings": (lambda: wrong(sightings=-3), "observations.1.sightings"),
    "sightings below people": (lambda: wrong(sightings=3), "observations.1.sightings"),
    "frames missing for sightings": (lambda: wrong(frames=0), "observations.1.frames"),
    "negative unread": (lambda: wrong(unread=-1), "observations.1.unread"),
    "unread not a count": (lambda: wrong(unread="some"), "observations.1.unread"),
    "sightings below people + unread": (lambda: wrong(people=4, unread=37, sightings=40), "observations.1.sightings"),
    "end before start": (lambda: wrong(end=observation()["start"]), "observations.1.end"),
    "span across buckets": (lambda: observation(bucket_ago(3) + timedelta(minutes=10), minutes=10), "observations.1.end"),
    "in the future": (future_span, "observations.1.end"),
    "older than retention": (old_span, "observations.1.start"),
    "a number for a time": (lambda: wrong(start=1_700_000_000), "observations.1.start"),
    "an unknown field": (lambda: wrong(faces=4), "observations.1.faces"),
    "a count too large for the database": (lambda: wrong(frames=10**12), "observations.1.frames"),
}


@pytest.mark.parametrize("case", INVALID)
def test_each_inconsistent_observation_is_a_422_naming_it_and_nothing_is_stored(client, camera, case):
    make, field = INVALID[case]
    response = post(client, camera, [observation(bucket_ago(4)), make()])  # the first one is fine
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in problem["detail"] and any(field in error for error in problem["errors"])
    assert overall(client, camera)["frames"] == 0
    assert post(client, camera, [observation(bucket_ago(4))]).status_code == 201  # the id was not taken


@pytest.mark.parametrize("batch_id", ["", "has space", "x" * 129, "line\n", "ünïcode"])
def test_batch_ids_like_frame_ids_only(client, camera, batch_id):
    response = post(client, camera, [observation()], batch_id=batch_id)
    assert response.status_code == 422 and "batch_id" in response.json()["detail"]


def test_too_many_or_no_observations_are_refused(client, camera):
    start = bucket_ago(2)
    many = [observation(start + timedelta(seconds=n % 900), minutes=0, people=0, happy=0, sightings=0, frames=1)
            for n in range(1001)]
    for entry in many:
        entry["end"] = (datetime.fromisoformat(entry["start"]) + timedelta(seconds=1)).isoformat()
    assert post(client, camera, many[:1000]).status_code == 201
    too_many = post(client, camera, many, batch_id="batch-2")
    assert too_many.status_code == 422 and "observations" in too_many.json()["detail"]
    assert post(client, camera, [], batch_id="batch-3").status_code == 422
    assert overall(client, camera)["frames"] == 1000


def test_every_problem_of_a_batch_is_listed(client, camera):
    response = post(client, camera, [wrong(happy=9, emotions={"happy": 9}), wrong(sightings=0)])
    errors = response.json()["errors"]
    assert any(e.startswith("observations.0.happy") for e in errors)
    assert any(e.startswith("observations.1.sightings") for e in errors)


def test_only_the_location_s_own_camera_may_post(client, camera):
    other_location = add_location(client, "Elsewhere")
    stranger = add_camera(client, other_location["id"])
    assert post(client, camera, [observation()], key=stranger["api_key"]).status_code == 403
    assert post(client, camera, [observation()], key="hcam_not-a-key").status_code == 401
    assert client.post(f"/locations/{camera['location_id']}/observations",
                       json={"batch_id": "b", "observations": [observation()]}).status_code == 401
    assert overall(client, camera)["frames"] == 0


def test_a_failed_commit_is_a_503_and_the_batch_can_be_sent_again(client, camera):
    with commits_failing(client.app):
        failed = post(client, camera, [observation()])
    assert failed.status_code == 503 and failed.headers["retry-after"] == "5"
    assert overall(client, camera)["frames"] == 0
    assert post(client, camera, [observation()]).status_code == 201
    assert overall(client, camera)["frames"] == 100


def test_health_tells_the_bucket_width(database_url, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app

    with TestClient(create_app(make_settings(database_url, tmp_path, bucket_minutes=5), pipeline=pipeline)) as client:
        assert client.get("/health").json() == {"status": "ok", "bucket_minutes": 5, "detector": "stub"}
        location = add_location(client)
        key = add_camera(client, location["id"])["api_key"]
        start = bucket_ago(2)
        crossing = observation(start + timedelta(minutes=3), minutes=3)  # 5-minute buckets: crosses one
        camera = {"location_id": location["id"], "api_key": key}
        assert post(client, camera, [crossing]).status_code == 422
        assert post(client, camera, [observation(start, minutes=5)]).status_code == 201


def test_the_camera_rate_limit_applies(database_url, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app

    settings = make_settings(database_url, tmp_path, camera_rate_per_minute=1, camera_burst=2)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        location = add_location(client)
        camera = {"location_id": location["id"], **add_camera(client, location["id"])}
        answers = [post(client, camera, [observation()], batch_id=f"b{n}") for n in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert int(answers[2].headers["retry-after"]) >= 1
        assert overall(client, camera)["faces"] == 8


def test_the_endpoint_is_documented_with_examples_and_problems(client):
    operation = client.get("/openapi.json").json()["paths"]["/locations/{location_id}/observations"]["post"]
    assert {"200", "201", "401", "403", "404", "422", "429", "503"} <= set(operation["responses"])
    assert "bucket_minutes" in operation["description"] and "batch_id" in operation["description"]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["ObservationBatch"]["examples"][0]["observations"][0]["people"] == 12


def test_every_read_gives_people_as_faces_beside_their_sightings(client, camera):
    import csv
    import io

    from support import VIEWER

    assert post(client, camera, [observation(bucket_ago(2), people=4, happy=1, sightings=40, frames=100)]).status_code == 201
    city = client.get("/happiness-index", headers=VIEWER).json()
    row = city["locations"][0]
    assert (row["range"]["faces"], row["range"]["sightings"]) == (4, 40)
    assert (row["latest_day"]["faces"], row["latest_day"]["sightings"]) == (4, 40)
    assert (city["overall"]["faces"], city["overall"]["sightings"]) == (4, 40)
    text = client.get("/happiness-index", headers=VIEWER, params={"format": "csv"}).text
    csv_row = next(csv.DictReader(io.StringIO(text)))
    assert (csv_row["faces"], csv_row["sightings"], csv_row["latest_day_sightings"]) == ("4", "40", "40")
    entity = client.get("/ngsi-ld/v1/entities", headers=VIEWER).json()[0]
    assert (entity["peopleCount"]["value"], entity["sightingsCount"]["value"]) == (4, 40)
    assert "sightingsCount" in entity["@context"][1]


def test_unread_people_are_stored_beside_people_and_never_in_the_index(client, camera):
    first, second = bucket_ago(3), bucket_ago(1)
    observations = [{**observation(first, people=4, happy=3, sightings=40), "unread": 2},
                    {**observation(first + timedelta(minutes=5), minutes=10, people=0, happy=0, sightings=5), "unread": 5},
                    observation(second, people=2, happy=1, sightings=8)]  # without unread: 0, as older agents send
    response = post(client, camera, observations)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["people"], body["happy"], body["unread"], body["sightings"]) == (6, 4, 7, 53)
    assert [(b["people"], b["unread"]) for b in body["buckets"]] == [(4, 7), (2, 0)]
    summary = overall(client, camera)
    assert (summary["faces"], summary["unread"], summary["sightings"]) == (6, 7, 53)
    assert summary["index"] == pytest.approx(4 / 6)  # 4 happy of 6 people read: the 7 unread are not in it
    series = client.get(f"/locations/{camera['location_id']}/happiness-index", headers=ADMIN,
                        params={"bucket": "15min", "from": first.isoformat(),
                                "to": (second + BUCKET).isoformat()}).json()["series"]
    assert [(p["faces"], p["unread"], p["index"]) for p in series] == [(4, 7, 0.75), (0, 0, None), (2, 0, 0.5)]
    again = post(client, camera, observations)  # the repeat's answer carries unread too; nothing added
    assert (again.status_code, again.json()["unread"]) == (200, 7)
    assert overall(client, camera)["unread"] == 7


def test_unread_reaches_the_city_overview_csv_and_ngsi(client, camera):
    import csv
    import io

    from support import VIEWER

    sent = {**observation(bucket_ago(2), people=12, happy=6, sightings=60, frames=100), "unread": 3}
    assert post(client, camera, [sent]).status_code == 201
    city = client.get("/happiness-index", headers=VIEWER).json()
    row = city["locations"][0]
    assert (row["range"]["unread"], row["latest_day"]["unread"], city["overall"]["unread"]) == (3, 3, 3)
    assert (row["range"]["faces"], row["range"]["index"]) == (12, 0.5)
    text = client.get("/happiness-index", headers=VIEWER, params={"format": "csv"}).text
    csv_row = next(csv.DictReader(io.StringIO(text)))
    assert (csv_row["faces"], csv_row["unread"], csv_row["latest_day_unread"]) == ("12", "3", "3")
    series_text = client.get(f"/locations/{camera['location_id']}/happiness-index", headers=VIEWER,
                             params={"format": "csv"}).text
    assert [r["unread"] for r in csv.DictReader(io.StringIO(series_text)) if r["faces"] != "0"] == ["3"]
    entity = client.get("/ngsi-ld/v1/entities", headers=VIEWER).json()[0]
    assert (entity["peopleCount"]["value"], entity["unreadCount"]["value"]) == (12, 3)
    assert entity["unreadCount"]["observedAt"] == entity["sightingsCount"]["observedAt"]
    assert "unreadCount" in entity["@context"][1]


def test_a_receipt_written_before_unread_existed_still_answers_its_repeat(client, camera):
    from sqlalchemy import update

    from service.db.tables import ObservationReceipt

    first = post(client, camera, [observation(people=4, happy=1)])
    assert first.status_code == 201
    old_answer = first.json()
    del old_answer["unread"]
    for bucket in old_answer["buckets"]:
        del bucket["unread"]
    old_answer.pop("duplicate")
    with client.app.state.session_factory.begin() as session:  # as the server stored it before 0006
        session.execute(update(ObservationReceipt).values(result=old_answer))
    again = post(client, camera, [observation(people=4, happy=1)])
    assert again.status_code == 200, again.text
    assert (again.json()["people"], again.json()["unread"], again.json()["duplicate"]) == (4, 0, True)
