"""POST /analyze: detections as JSON or drawn on a JPEG; admin only; nothing stored."""

import io

import numpy as np
from PIL import Image

from support import ADMIN, VIEWER, add_camera, add_location, jpeg_bytes

IMAGE = {"Content-Type": "image/jpeg"}


def city_faces(client) -> tuple[int, int]:
    overall = client.get("/happiness-index", headers=ADMIN).json()["overall"]
    return overall["frames"], overall["faces"]


def test_json_result_lists_the_detections(client, pipeline):
    response = client.post("/analyze", content=jpeg_bytes(160, 120), headers={**ADMIN, **IMAGE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"], body["faces"], body["happy"], body["not_happy"]) == (160, 120, 2, 1, 1)
    assert [d["label"] for d in body["detections"]] == ["happy", "sad"]
    assert body["detections"][0]["box"] == {"top": 10, "right": 60, "bottom": 60, "left": 10}
    assert set(body["timings_ms"]) == {"detect", "classify"}
    assert pipeline.calls == 1


def test_multipart_upload_like_a_frame(client):
    response = client.post("/analyze", files={"image": ("test.jpg", jpeg_bytes(), "image/jpeg")}, headers=ADMIN)
    assert response.status_code == 200 and response.json()["faces"] == 2


def test_annotate_returns_a_jpeg_with_the_boxes_drawn(client):
    response = client.post("/analyze", params={"annotate": "true"}, content=jpeg_bytes(160, 120),
                           headers={**ADMIN, **IMAGE})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert (response.headers["x-faces"], response.headers["x-happy"], response.headers["x-not-happy"]) == ("2", "1", "1")
    assert response.headers["x-unread"] == "0"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("JPEG", (160, 120))
    pixels = np.asarray(image.convert("RGB")).astype(int)
    edge, inside = pixels[35, 11], pixels[35, 35]  # the box's left edge, the face's middle
    assert abs(edge - inside).sum() > 100, (edge, inside)  # the outline differs from the grey frame


def test_admin_only(client):
    for headers, status in (({}, 401), (VIEWER, 403)):
        response = client.post("/analyze", content=jpeg_bytes(), headers={**headers, **IMAGE})
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"


def test_nothing_is_stored(client):
    location = add_location(client)
    add_camera(client, location["id"])
    before = city_faces(client)
    for annotate in ("false", "true"):
        assert client.post("/analyze", params={"annotate": annotate}, content=jpeg_bytes(),
                           headers={**ADMIN, **IMAGE}).status_code == 200
    assert city_faces(client) == before == (0, 0)


def test_undecodable_image_is_a_readable_422(client):
    response = client.post("/analyze", content=b"not an image at all", headers={**ADMIN, **IMAGE})
    assert response.status_code == 422
    assert "decoded" in response.json()["detail"]


def test_faces_too_small_to_read_are_answered_apart_and_nothing_is_stored(client, pipeline):
    pipeline.unread = 2
    response = client.post("/analyze", content=jpeg_bytes(160, 120), headers={**ADMIN, **IMAGE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["faces"], body["unread"], len(body["detections"])) == (2, 2, 2)
    assert body["unread_boxes"][1] == {"top": 5, "right": 100, "bottom": 15, "left": 90}
    assert client.get("/happiness-index", headers=ADMIN).json()["overall"]["unread"] == 0


def test_the_annotated_image_boxes_faces_too_small_to_read_in_grey(client, pipeline):
    pipeline.unread = 3  # 10 px boxes at top 5, left 70, 90, 110 (support.ScriptedPipeline)
    response = client.post("/analyze", params={"annotate": "true"}, content=jpeg_bytes(160, 120),
                           headers={**ADMIN, **IMAGE})
    assert response.headers["x-unread"] == "3"
    pixels = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)
    edge, inside = pixels[10, 110], pixels[10, 115]  # the last box's left edge, its middle (the frame's grey)
    assert (edge - inside).min() > 25 and np.ptp(edge) < 25  # a lighter grey outline, not a label's colour
