from datetime import UTC, datetime, timedelta

import pytest

from support import ADMIN, add_camera, add_location, bearer, commits_failing, jpeg_bytes


@pytest.fixture
def camera(client):
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def frames_url(camera) -> str:
    return f"/locations/{camera['location_id']}/frames"


def index_of(client, camera, **params) -> dict:
    response = client.get(f"/locations/{camera['location_id']}/happiness-index", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_multipart_frame_is_counted(client, camera, pipeline):
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["faces"], body["happy"], body["not_happy"]) == (2, 1, 1)
    assert body["emotions"]["happy"] == 1 and body["emotions"]["sad"] == 1 and body["emotions"]["fear"] == 0
    assert len(body["detections"]) == 2 and body["detections"][0]["box"]["top"] == 10
    assert pipeline.calls == 1
    overall = index_of(client, camera)["overall"]
    assert (overall["faces"], overall["happy"], overall["frames"]) == (2, 1, 1)


def test_raw_jpeg_body_with_query_parameters(client, camera):
    captured = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    response = client.post(frames_url(camera), content=jpeg_bytes(),
                           headers={"Content-Type": "image/jpeg", **bearer(camera["api_key"])},
                           params={"captured_at": captured.isoformat(), "frame_id": "cam1-0001"})
    assert response.status_code == 201
    body = response.json()
    assert datetime.fromisoformat(body["captured_at"]) == captured
    bucket = datetime.fromisoformat(body["bucket_start"])
    assert bucket.minute % 15 == 0 and timedelta(0) <= captured - bucket < timedelta(minutes=15)


def test_same_frame_id_is_counted_once_and_answered_before_analysis(client, camera, pipeline):
    form = {"frame_id": "f-42"}
    first = client.post(frames_url(camera), headers=bearer(camera["api_key"]), data=form,
                        files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    pipeline.labels = ("angry",)
    second = client.post(frames_url(camera), headers=bearer(camera["api_key"]), data=form,
                         files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert (first.status_code, second.status_code) == (201, 200)
    assert pipeline.calls == 1  # the repeat was recognised before its image was analysed
    assert second.json() == {"location_id": camera["location_id"], "camera_id": camera["id"], "frame_id": "f-42",
                             "duplicate": True, "first_received_at": second.json()["first_received_at"]}
    assert datetime.fromisoformat(second.json()["first_received_at"]) <= datetime.now(UTC)
    assert index_of(client, camera)["overall"]["faces"] == 2


def test_same_frame_id_from_another_camera_is_a_new_frame(client, camera):
    other = add_camera(client, camera["location_id"], "second")
    for key in (camera["api_key"], other["api_key"]):
        response = client.post(frames_url(camera), headers=bearer(key), data={"frame_id": "f-1"},
                               files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
        assert response.status_code == 201
    assert index_of(client, camera)["overall"]["faces"] == 4


@pytest.mark.parametrize("captured_at, fragment", [
    ("yesterday", "not an ISO-8601"),
    (timedelta(minutes=10), "in the future"),  # from now when the test runs, not when it was collected
    (timedelta(days=-400), "retention"),
])
def test_bad_captured_at_is_422_and_counts_nothing(client, camera, captured_at, fragment):
    if isinstance(captured_at, timedelta):
        captured_at = (datetime.now(UTC) + captured_at).isoformat()
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           data={"captured_at": captured_at},
                           files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert index_of(client, camera)["overall"]["frames"] == 0


def test_captured_at_slightly_in_the_future_is_accepted(client, camera):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]), data={"captured_at": soon},
                           files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 201


def test_undecodable_image_is_422_naming_the_cause(client, camera):
    response = client.post(frames_url(camera), content=b"hello, I am not a picture",
                           headers={"Content-Type": "image/jpeg", **bearer(camera["api_key"])})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("the image cannot be decoded")
    assert index_of(client, camera)["overall"]["frames"] == 0


def test_body_over_the_byte_limit_is_413(database_url, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app
    from support import make_settings

    settings = make_settings(database_url, tmp_path, max_upload_bytes=2048)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        location = add_location(client)
        key = add_camera(client, location["id"])["api_key"]
        response = client.post(f"/locations/{location['id']}/frames", content=b"\xff" * 5000,
                               headers={"Content-Type": "image/jpeg", **bearer(key)})
        assert response.status_code == 413
        assert "limit is 2,048 bytes" in response.json()["detail"]
        assert pipeline.calls == 0


def test_wrong_content_type_is_415(client, camera):
    response = client.post(frames_url(camera), content=b"{}",
                           headers={"Content-Type": "application/json", **bearer(camera["api_key"])})
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


def test_form_without_image_field_is_422(client, camera):
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           files={"picture": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 422
    assert "`image`" in response.json()["detail"]


def test_invalid_frame_id_is_422(client, camera):
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           data={"frame_id": "x" * 200}, files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 422
    assert "frame_id" in response.json()["detail"]


def test_a_failed_commit_answers_503_not_201(client, camera):
    with commits_failing(client.app):
        response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                               files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert index_of(client, camera)["overall"]["frames"] == 0


def test_frames_are_analysed_at_most_analysis_threads_at_once(database_url, tmp_path):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from service.main import create_app
    from support import ScriptedPipeline, make_settings

    class SlowPipeline(ScriptedPipeline):
        def __init__(self):
            super().__init__()
            self.running, self.most, self.lock = 0, 0, threading.Lock()

        def analyze(self, rgb):
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.05)
            with self.lock:
                self.running -= 1
            return super().analyze(rgb)

    pipeline = SlowPipeline()
    settings = make_settings(database_url, tmp_path, analysis_threads=2, camera_rate_per_minute=0)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        location = add_location(client)
        key = add_camera(client, location["id"])["api_key"]
        post = lambda _: client.post(f"/locations/{location['id']}/frames", content=jpeg_bytes(),  # noqa: E731
                                     headers={"Content-Type": "image/jpeg", **bearer(key)}).status_code
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(post, range(16)))
    assert statuses == [201] * 16 and pipeline.most == 2


def test_faces_too_small_to_read_are_counted_as_unread_and_never_in_the_index(client, camera, pipeline):
    pipeline.labels, pipeline.unread = ("happy", "happy", "sad"), 2
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["faces"], body["happy"], body["not_happy"], body["unread"]) == (3, 2, 1, 2)
    assert len(body["detections"]) == 3  # read faces only
    assert [box["left"] for box in body["unread_boxes"]] == [70, 90] and body["unread_boxes"][0]["top"] == 5
    overall = index_of(client, camera)["overall"]
    assert (overall["faces"], overall["unread"], overall["sightings"]) == (3, 2, 5)
    assert (overall["happy"], overall["not_happy"]) == (2, 1)
    assert overall["index"] == pytest.approx(2 / 3)  # the two unread faces are not in its denominator
    [point] = [p for p in index_of(client, camera, bucket="15min")["series"] if p["frames"]]
    assert (point["faces"], point["unread"], point["sightings"], point["index"]) == (3, 2, 5, pytest.approx(2 / 3))


def test_a_frame_with_only_unread_faces_counts_them_and_leaves_the_index_empty(client, camera, pipeline):
    pipeline.labels, pipeline.unread = (), 3
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    assert response.status_code == 201, response.text
    assert (response.json()["faces"], response.json()["unread"], response.json()["detections"]) == (0, 3, [])
    overall = index_of(client, camera)["overall"]
    assert (overall["frames"], overall["faces"], overall["unread"], overall["sightings"]) == (1, 0, 3, 3)
    assert overall["index"] is None and overall["ci95"] is None


def test_the_answer_health_and_ready_name_the_detector_that_read_the_frame(client, camera):
    response = client.post(frames_url(camera), headers=bearer(camera["api_key"]),
                           files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})
    model = response.json()["model"]
    assert (model["name"], model["version"], model["detector"]) == ("scripted", "test", "stub")
    assert client.get("/health").json()["detector"] == "stub"
    assert client.get("/ready").json()["model"]["detector"] == "stub"
