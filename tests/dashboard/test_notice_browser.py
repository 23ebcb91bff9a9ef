"""The public notice and the public page in Chromium: the notice prints on one A4 page, its QR
code (read back from the screenshot) leads to the public page, and neither page logs a console
error or requests anything off the server's origin. Screenshots and the PDF go to artifacts/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import cv2
import httpx
import numpy as np
import pytest

from conftest import OPERATOR
from support import ADMIN, jpeg_bytes


@pytest.fixture(scope="module")
def location_id(operated_live_server) -> int:
    with httpx.Client(base_url=operated_live_server.url, headers=ADMIN, timeout=10) as api:
        location = api.post("/locations", json={"name": "Museum Square", "setting": "public_square"}).json()
        key = api.post(f"/locations/{location['id']}/cameras", json={"name": "north"}).json()["api_key"]
        for minutes in (90, 75, 60, 45, 30):  # 10 faces: the publishing minimum of public pages
            response = api.post(f"/locations/{location['id']}/frames", content=jpeg_bytes(),
                                params={"captured_at": (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()},
                                headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
            assert response.status_code == 201, response.text
    return location["id"]


class Watched:
    """A page's console errors, uncaught exceptions and every URL it requested."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def off_origin(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(origin + "/") and not url.startswith("data:")]


def decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return cv2.QRCodeDetector().detectAndDecode(image)[0]


def test_the_notice_prints_on_one_a4_page_and_its_code_leads_to_the_public_page(
        browser, operated_live_server, location_id, artifacts):
    origin = operated_live_server.url
    page = browser.new_page(viewport={"width": 900, "height": 1300})
    watched = Watched(page)
    page.goto(f"{origin}/locations/{location_id}/notice")
    page.emulate_media(media="print")
    assert page.locator('[data-field="operator"]').inner_text() == OPERATOR[0]
    assert page.locator('[data-field="contact"]').inner_text() == OPERATOR[1]
    assert page.locator(".warning:visible").count() == 0  # the base-URL hint is for the screen only
    screenshot = page.screenshot(path=str(artifacts / "notice.png"), full_page=True)
    public_url = f"{origin}/locations/{location_id}/public"
    assert decode_qr(screenshot) == public_url
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts / "notice.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
    assert watched.errors == [] and watched.off_origin(origin) == []
    assert any(url.endswith("/dashboard/public.css") for url in watched.requests)
    page.close()


def test_the_public_page_and_the_limits_load_cleanly(browser, operated_live_server, location_id, artifacts):
    origin = operated_live_server.url
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    watched = Watched(page)
    page.goto(f"{origin}/locations/{location_id}/public")
    assert page.locator('[data-field="location"]').inner_text() == "Museum Square"
    assert page.locator('[data-field="index"]').inner_text() == "50.0%"  # frames of one happy, one sad face
    assert page.locator('[data-field="faces"]').inner_text() == "10"
    page.screenshot(path=str(artifacts / "public-page.png"), full_page=True)
    page.click("text=Read the full limits of the index")
    page.wait_for_url(f"{origin}/limits")
    assert "What the happiness index can and cannot tell" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "limits.png"), full_page=True)
    assert watched.errors == [] and watched.off_origin(origin) == []
    page.close()
