"""The public pages: the notice for signage (content, operator, retention, QR code decoded back to
the public page's address), the public page (the index service's figures for the last 30 days, gaps
where paused, the limits), /limits, all without a token and held to this origin."""

import re
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from responsible_helpers import post_frame
from service.main import create_app
from support import ADMIN, add_camera, add_location, make_settings

BASE = "https://happiness.city.example"


@pytest.fixture
def public_client(database_url, tmp_path, pipeline):
    """public_read off: the public pages must need no token all the same."""
    settings = make_settings(database_url, tmp_path, operator_name="City of Example, Public Space Office",
                             operator_contact="privacy@city.example", public_base_url=BASE + "/", retention_days=90)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        yield client


def decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_notice_says_what_is_measured_kept_and_who_runs_it(public_client):
    location = add_location(public_client, "Museum Square", setting="public_square")
    response = public_client.get(f"/locations/{location['id']}/notice")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    text = visible_text(response.text)
    for fragment in ("Cameras here analyse facial expressions", "Museum Square",
                     "share of faces whose expression the model classifies as happy",
                     "not a measure of anybody's feelings", "No image, video or face is stored",
                     "nobody is identified", "kept for 90 days", "City of Example, Public Space Office",
                     "privacy@city.example", f"{BASE}/locations/{location['id']}/public", "Art. 50(3)"):
        assert fragment in text, fragment
    assert "not configured" not in text and "<script" not in response.text
    assert response.text.count("<svg") == 1  # the QR code, inline: printing needs nothing else


def test_the_qr_code_decodes_to_the_public_page(public_client):
    location = add_location(public_client)
    png = public_client.get(f"/locations/{location['id']}/notice/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert decode_qr(png.content) == f"{BASE}/locations/{location['id']}/public"
    svg = public_client.get(f"/locations/{location['id']}/notice/qr.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and svg.text.startswith("<svg")
    notice = public_client.get(f"/locations/{location['id']}/notice").text
    assert re.search(r'<path[^>]* d="([^"]+)"', svg.text).group(1) in notice  # the same code as on the notice


def test_without_a_base_url_the_code_leads_to_this_address_and_the_notice_warns(client):
    location = add_location(client)
    assert decode_qr(client.get(f"/locations/{location['id']}/notice/qr.png").content) == \
        f"http://testserver/locations/{location['id']}/public"
    text = visible_text(client.get(f"/locations/{location['id']}/notice").text)
    assert "Not ready to print" in text and "HAPPINESS_OPERATOR_NAME" in text
    assert "HAPPINESS_PUBLIC_BASE_URL is not set" in text


def test_the_public_page_shows_the_index_services_figures(public_client):
    location = add_location(public_client, "Station Hall", setting="station")
    camera = {"location_id": location["id"], **add_camera(public_client, location["id"])}
    two_days_ago = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    # each frame one happy and one sad face: 5 frames two days ago (10 faces, the publishing
    # minimum), one a minute ago (2 faces, too few to publish)
    for captured in [two_days_ago + timedelta(hours=hour) for hour in range(10, 15)] + [
            datetime.now(UTC) - timedelta(minutes=1)]:
        assert post_frame(public_client, camera, captured_at=captured).status_code == 201
    index = public_client.get(f"/locations/{location['id']}/happiness-index", headers=ADMIN).json()
    page = public_client.get(f"/locations/{location['id']}/public")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Station Hall" in text and "Setting: station" in text
    assert f"share of happy-classified faces {index['overall']['index'] * 100:.1f}%" in text
    assert "faces counted 12" in text and "expressions, not emotions" in text
    assert "15.5% against a true 14.3%" in text and 'href="/limits"' in page.text
    assert f"{two_days_ago:%Y-%m-%d} 10 50.0%" in text
    assert " 2 – too few faces to publish" in text  # today: the small-count rule of public reads


def test_the_public_page_withholds_a_share_of_too_few_faces(public_client):
    location = add_location(public_client)
    camera = {"location_id": location["id"], **add_camera(public_client, location["id"])}
    assert post_frame(public_client, camera).status_code == 201  # 2 faces: under the minimum of 10
    token_answer = public_client.get(f"/locations/{location['id']}/happiness-index", headers=ADMIN).json()
    assert token_answer["overall"]["index"] == 0.5 and token_answer["overall"]["low_count"] is True
    text = visible_text(public_client.get(f"/locations/{location['id']}/public").text)
    assert "Too few faces (2) to publish a share" in text and "50.0%" not in text


def test_a_paused_location_says_so_on_its_public_page(public_client):
    location = add_location(public_client)
    public_client.post(f"/locations/{location['id']}/pause", headers=ADMIN)
    text = visible_text(public_client.get(f"/locations/{location['id']}/public").text)
    assert "nothing is being counted here now" in text and "paused: not measured" in text


def test_the_public_pages_hold_themselves_to_this_origin_and_unknown_places_are_404(public_client):
    location = add_location(public_client)
    for path in (f"/locations/{location['id']}/notice", f"/locations/{location['id']}/public", "/limits"):
        response = public_client.get(path)
        assert response.status_code == 200, path
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert re.findall(r'(?:href|src)="(https?:)?//', response.text) == [], path  # nothing off the origin
    for path in ("/locations/999/notice", "/locations/999/public", "/locations/999/notice/qr.png"):
        missing = public_client.get(path)
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_limits_renders_docs_limits(public_client):
    page = public_client.get("/limits")
    assert "<h1>What the happiness index can and cannot tell</h1>" in page.text
    assert "<table>" in page.text and "still calls some faces happy that are not" in visible_text(page.text)


def test_the_public_page_shows_faces_too_small_to_read_apart_from_the_share(public_client, pipeline):
    location = add_location(public_client)
    camera = {"location_id": location["id"], **add_camera(public_client, location["id"])}
    assert "too small to read" not in visible_text(public_client.get(f"/locations/{location['id']}/public").text)
    pipeline.labels, pipeline.unread = ("happy",) * 6 + ("sad",) * 6, 4
    assert post_frame(public_client, camera).status_code == 201
    text = visible_text(public_client.get(f"/locations/{location['id']}/public").text)
    assert "faces counted 12 too small to read (not in the share) 4" in text
    assert "share of happy-classified faces 50.0%" in text  # 6 of 12: the 4 unread are not in it
