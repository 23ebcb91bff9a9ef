"""The issue's "done when": after posting the sample photos with the real detector and model,
the dashboard shows the location with the counts the API answered, and its chart."""

from __future__ import annotations

import math

import httpx
import pytest

from support import ADMIN, ADMIN_TOKEN, require_samples

pytestmark = pytest.mark.slow
PHOTOS = ("obama_and_biden.jpg", "kit_with_rose.jpg", "obama-720p.jpg")


def post_samples(base_url: str) -> tuple[int, int, int]:
    """Location, camera and frames as in the README walk-through; returns (location id, faces, happy)."""
    samples = require_samples()
    with httpx.Client(base_url=base_url, headers=ADMIN, timeout=120) as api:
        location = api.post("/locations", json={"name": "Museum Square", "timezone": "Europe/Amsterdam"}).json()
        key = api.post(f"/locations/{location['id']}/cameras", json={"name": "north"}).json()["api_key"]
        answers = [api.post(f"/locations/{location['id']}/frames", headers={"Authorization": f"Bearer {key}"},
                            files={"image": (name, (samples / name).read_bytes(), "image/jpeg")}).json()
                   for name in PHOTOS]
    return location["id"], sum(a["faces"] for a in answers), sum(a["happy"] for a in answers)


def as_percent(fraction: float) -> str:
    return f"{math.floor(fraction * 100 + 0.5)}%"  # half up, like JavaScript's toFixed(0) here


def test_sample_photos_appear_on_the_dashboard(browser, real_live_server, artifacts):
    location_id, faces, happy = post_samples(real_live_server)
    assert faces >= 5  # the samples' README: 3 + 2 + 1 faces
    context = browser.new_context(base_url=real_live_server, viewport={"width": 1280, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('happiness.token', '{ADMIN_TOKEN}')")
    page = context.new_page()
    page.goto("/dashboard/")
    card = page.locator('li.card[data-name="Museum Square"]')
    card.wait_for()
    assert card.locator('[data-field="faces"]').inner_text() == str(faces)
    assert card.locator('[data-field="latest-index"]').inner_text() == as_percent(happy / faces)
    page.screenshot(path=str(artifacts / "dashboard-real-photos.png"), full_page=True)
    page.goto(f"/dashboard/location.html?id={location_id}")
    dot = page.locator("#index-chart circle.index-dot")
    dot.wait_for()
    assert float(dot.get_attribute("data-value")) == pytest.approx(happy / faces)
    context.close()
