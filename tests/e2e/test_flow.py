"""The whole flow over HTTP with each real detector (the default BlazeFace and the paper's HOG) and
the committed model, on real photos: register a location and a camera, post frames, read the
index. Nothing but counts is stored."""

import io
import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from support import ADMIN, add_camera, add_location, bearer, make_settings, require_samples

pytestmark = pytest.mark.slow

# faces per sample photo per ../shared/samples/README.md (all >= 74 px high)
SAMPLE_FACES = {"obama_and_biden.jpg": 3, "two_people.jpg": 2, "obama-720p.jpg": 1, "kit_with_rose.jpg": 2}


@pytest.fixture(scope="session", params=["blazeface", "hog"])
def real_pipeline(request):
    from service.config import Settings
    from service.main import build_pipeline

    return build_pipeline(Settings(detector=request.param))


@pytest.fixture
def live(database_url, tmp_path, real_pipeline):
    settings = make_settings(database_url, tmp_path, detector=real_pipeline.detector.type)
    from service.main import create_app

    with TestClient(create_app(settings, pipeline=real_pipeline)) as client:
        location = add_location(client, "Museum Square", "Europe/Amsterdam")
        camera = add_camera(client, location["id"])
        yield client, location["id"], camera["api_key"]


def astronaut_png() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


def post_frame(live, body: bytes, content_type: str):
    client, location_id, key = live
    response = client.post(f"/locations/{location_id}/frames", content=body,
                           headers={"Content-Type": content_type, **bearer(key)})
    assert response.status_code == 201, response.text
    return response


def test_astronaut_photo_moves_the_index(live, real_pipeline):
    client, location_id, _ = live
    response = post_frame(live, astronaut_png(), "image/png")
    body = response.json()
    assert body["faces"] == 1 and body["happy"] + body["not_happy"] == 1 and body["unread"] == 0
    assert body["model"]["detector"] == real_pipeline.detector.type
    assert client.get("/health").json()["detector"] == real_pipeline.detector.type
    scores = body["detections"][0]["scores"]
    assert set(scores) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-3)
    overall = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN).json()["overall"]
    assert overall["faces"] == 1 and overall["index"] == body["happy"]


def test_sample_photos_counted_face_by_face(live):
    samples = require_samples()
    client, location_id, key = live
    happy = 0
    for name, faces in SAMPLE_FACES.items():
        response = client.post(f"/locations/{location_id}/frames", headers=bearer(key),
                               files={"image": (name, (samples / name).read_bytes(), "image/jpeg")})
        assert response.status_code == 201, response.text
        assert response.json()["faces"] == faces, name
        happy += response.json()["happy"]
    overall = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN).json()["overall"]
    assert overall["faces"] == sum(SAMPLE_FACES.values()) and overall["happy"] == happy
    assert overall["frames"] == len(SAMPLE_FACES)


def test_analyze_command_prints_faces_as_json():
    samples = require_samples()
    result = subprocess.run([sys.executable, "-m", "service.cli", "analyze", "--json",
                             str(samples / "two_people.jpg")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["faces"] == 2 and len(report["detections"]) == 2
    assert report["happy"] + report["not_happy"] == 2


def exif_rotated_astronaut_jpeg() -> bytes:
    """The astronaut stored lying on its side, with EXIF orientation 8 saying how to stand it
    up, as a phone or a camera mounted on its side would send it."""
    from PIL import Image
    from skimage import data

    sideways = Image.fromarray(data.astronaut()).transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise to view
    buffer = io.BytesIO()
    sideways.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


def test_exif_rotated_photo_still_finds_the_face(live):
    response = post_frame(live, exif_rotated_astronaut_jpeg(), "image/jpeg")
    assert response.json()["faces"] == 1
    box = response.json()["detections"][0]["box"]
    assert box["bottom"] <= 512 and box["right"] <= 512  # boxes are in upright coordinates
