"""Every kind of bad input gets a clear problem+json answer and changes no count."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from support import ADMIN, add_camera, add_location, bearer, jpeg_bytes


@pytest.fixture
def camera(client):
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries almost no data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def post_raw(client, camera, body: bytes, content_type: str = "image/jpeg", **params):
    return client.post(f"/locations/{camera['location_id']}/frames", content=body, params=params,
                       headers={"Content-Type": content_type, **bearer(camera["api_key"])})


def counted_frames(client, camera) -> int:
    body = client.get(f"/locations/{camera['location_id']}/happiness-index", headers=ADMIN).json()
    return body["overall"]["frames"]


def assert_problem(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"]
    assert fragment in body["detail"], body["detail"]


@pytest.mark.parametrize("body, fragment", [
    (b"", "empty image"),
    (jpeg_bytes(640, 480)[:300], "JPEG"),
    (b"GET / HTTP/1.1\nthis is a text file\n", "got text"),
    (b"\x00\x01\x02\x03garbage", "not a recognised image format"),
])
def test_undecodable_bodies_are_422(client, camera, body, fragment):
    assert_problem(post_raw(client, camera, body), 422, fragment)
    assert counted_frames(client, camera) == 0


def test_png_declaring_100k_by_100k_pixels_is_413_without_decoding(client, camera):
    response = post_raw(client, camera, png_declaring(100_000, 100_000), "image/png")
    assert_problem(response, 413, "10,000,000,000")
    assert counted_frames(client, camera) == 0


@pytest.mark.parametrize("name, make", [
    ("animated PNG", lambda: encode(Image.new("P", (64, 48)), "PNG", save_all=True,
                                    append_images=[Image.new("P", (64, 48), 3)], duration=100, loop=0)),
    ("CMYK JPEG", lambda: encode(Image.new("CMYK", (64, 48), (0, 50, 100, 0)), "JPEG")),
    ("16-bit PNG", lambda: encode(Image.fromarray(np.full((48, 64), 40000, np.uint16)), "PNG")),
    ("RGBA PNG", lambda: encode(Image.new("RGBA", (64, 48), (10, 200, 30, 128)), "PNG")),
    ("grayscale PNG", lambda: encode(Image.new("L", (64, 48), 90), "PNG")),
])
def test_every_colour_mode_is_accepted(client, camera, name, make):
    response = post_raw(client, camera, make(), "image/png")
    assert response.status_code == 201, f"{name}: {response.text}"
    assert counted_frames(client, camera) == 1


def test_body_over_the_limit_is_refused_before_it_is_all_read(settings, pipeline):
    """Over a real socket: a 50 MB upload is announced but only 1 KB sent; the 413 must come
    back at once, so the server cannot have waited for the rest."""
    import socket

    from service.main import create_app
    from support import LiveServer

    with LiveServer(create_app(settings, pipeline=pipeline)) as server:
        import httpx

        location = httpx.post(f"{server.url}/locations", json={"name": "L"}, headers=ADMIN).json()
        key = httpx.post(f"{server.url}/locations/{location['id']}/cameras", json={"name": "c"},
                         headers=ADMIN).json()["api_key"]
        request = (f"POST /locations/{location['id']}/frames HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {key}\r\nContent-Type: image/jpeg\r\n"
                   "Content-Length: 50000000\r\n\r\n").encode() + b"\xff" * 1024
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
            connection.sendall(request)
            answer = connection.recv(65536).decode("latin-1")
        assert answer.startswith("HTTP/1.1 413")
        assert "limit is 10,485,760 bytes" in answer
        index = httpx.get(f"{server.url}/locations/{location['id']}/happiness-index", headers=ADMIN).json()
        assert index["overall"]["frames"] == 0


@pytest.mark.parametrize("params, fragment", [
    ({"captured_at": "2026-13-45T99:00:00"}, "ISO-8601"),
    ({"captured_at": "é" * 5000}, "ISO-8601"),
    ({"frame_id": "naïve frame"}, "frame_id"),
])
def test_malformed_query_values_are_422(client, camera, params, fragment):
    assert_problem(post_raw(client, camera, jpeg_bytes(), **params), 422, fragment)
    assert counted_frames(client, camera) == 0


@pytest.mark.parametrize("params, status, fragment", [
    ({"bucket": "fortnight"}, 422, "bucket"),
    ({"bucket": "日"}, 422, "bucket"),
    ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422, "must be before"),
    ({"from": "x" * 10_000}, 422, "from"),
    ({"to": "2026-01-01T00:00:00Z", "from": "1971-01-01T00:00:00Z", "bucket": "hour"}, 422, "coarser"),
])
def test_bad_index_queries_are_422(client, camera, params, status, fragment):
    response = client.get(f"/locations/{camera['location_id']}/happiness-index", params=params, headers=ADMIN)
    assert_problem(response, status, fragment)


def test_non_integer_location_id_is_422_not_500(client):
    assert_problem(client.get("/locations/abc", headers=ADMIN), 422, "location_id")
    assert_problem(client.get("/locations/99999999999999999999999", headers=ADMIN), 422, "location_id")


def test_unknown_route_and_wrong_method_are_problems(client):
    assert_problem(client.get("/nope"), 404, "/nope")
    response = client.put("/health")
    assert response.status_code == 405 and response.headers["content-type"] == "application/problem+json"
