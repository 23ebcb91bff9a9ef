"""The dashboard in a real browser against a live server with seeded data: no console errors,
the cards and charts show the seeded values, the bucket picker changes the chart, the token
flow works, the test-image page shows the annotated result. Screenshots go to artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from support import ADMIN, ADMIN_TOKEN, VIEWER_TOKEN, add_location, jpeg_bytes, post_frame_at

# Museum Square: 2 days ago one frame of 1 happy + 1 sad; 5 minutes ago two frames of 3 happy + 1 sad
# -> latest day 6/8 = 75%, range 7/10 = 70%. Central Station: one frame of 1 happy + 3 sad -> 25%,
# and an edge agent's 4 people (1 happy) seen 40 times an hour ago -> latest day 25%, 8 faces, 44 sightings.
MUSEUM_FRAMES = [(timedelta(days=2), ("happy", "sad")), (timedelta(minutes=5), ("happy",) * 3 + ("sad",)),
                 (timedelta(minutes=5), ("happy",) * 3 + ("sad",))]
STATION_FRAMES = [(timedelta(hours=30), ("happy", "sad", "sad", "sad"))]


@pytest.fixture(scope="module")
def seeded(live_server) -> dict[str, int]:
    """Locations, cameras and frames created through the real API of the live server."""
    with httpx.Client(base_url=live_server.url, headers=ADMIN, timeout=10) as api:
        ids = {name: add_location(api, name, **where)["id"] for name, where in (
            ("Museum Square", {"latitude": 52.358, "longitude": 4.881}), ("Central Station", {}), ("Quiet Park", {}))}
        for name, frames in (("Museum Square", MUSEUM_FRAMES), ("Central Station", STATION_FRAMES)):
            key = api.post(f"/locations/{ids[name]}/cameras", json={"name": "cam"}).json()["api_key"]
            for age, labels in frames:
                live_server.pipeline.labels = labels
                post_frame_at(api, ids[name], key, datetime.now(UTC) - age)
        _post_observation(api, ids["Central Station"], key, datetime.now(UTC) - timedelta(hours=1))
    live_server.pipeline.labels = ("happy", "sad")
    return ids


def _post_observation(api: httpx.Client, location_id: int, key: str, start: datetime) -> None:
    start = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    observation = {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(), "people": 4,
                   "happy": 1, "emotions": {"happy": 1, "sad": 3}, "sightings": 40, "frames": 900}
    response = api.post(f"/locations/{location_id}/observations", json={"batch_id": "b1", "observations": [observation]},
                        headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text


class Console:
    """Every console error and uncaught exception of a page."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


@pytest.fixture
def page_with_token(browser, live_server):
    """A page whose session already holds the viewer token, as after typing it once."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('happiness.token', '{VIEWER_TOKEN}')")
    page = context.new_page()
    yield page, Console(page)
    context.close()


def card(page, name: str):
    return page.locator(f'li.card[data-name="{name}"]')


def test_overview_cards_show_the_seeded_values(page_with_token, seeded, artifacts):
    page, console = page_with_token
    page.goto("/dashboard/")
    museum = card(page, "Museum Square")
    museum.wait_for()
    assert museum.locator('[data-field="latest-index"]').inner_text() == "75%"
    assert museum.locator('[data-field="range-index"]').inner_text().startswith("70% (")
    assert museum.locator('[data-field="faces"]').inner_text() == "10"
    station = card(page, "Central Station")
    assert station.locator('[data-field="latest-index"]').inner_text() == "25%"
    assert (station.locator('[data-field="faces"]').inner_text(), station.locator('[data-field="sightings"]').inner_text()) \
        == ("8", "44")
    # Central Station's 8 faces are under the publishing minimum: its card is greyed out
    assert "low-count" in station.get_attribute("class")
    assert "low-count" not in museum.get_attribute("class")
    assert "measured on the model's validation faces" in page.locator('[data-field="model-rates"]').inner_text()
    assert "no faces yet" in card(page, "Quiet Park").inner_text()
    assert int(museum.locator("svg.sparkline").get_attribute("data-points")) in (30, 31)
    assert museum.locator("svg.sparkline path").count() >= 1
    path = artifacts / "dashboard-overview.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    assert console.errors == []


def test_overview_search_and_sort(page_with_token, seeded):
    page, console = page_with_token
    page.goto("/dashboard/")
    card(page, "Museum Square").wait_for()
    page.select_option("#sort", "latest")
    assert page.locator("li.card").evaluate_all("cards => cards.map(c => c.dataset.name)") == \
        ["Museum Square", "Central Station", "Quiet Park"]
    page.fill("#search", "station")
    assert page.locator("li.card").evaluate_all("cards => cards.map(c => c.dataset.name)") == ["Central Station"]
    page.fill("#search", "nowhere")
    assert "No location matches" in page.locator("#status").inner_text()
    assert console.errors == []


def test_location_page_charts_and_bucket_picker(page_with_token, seeded, live_server, artifacts):
    page, console = page_with_token
    page.goto(f"/dashboard/location.html?id={seeded['Museum Square']}")
    chart = page.locator("#index-chart svg.chart")
    chart.wait_for()
    assert page.locator('[data-field="index"]').inner_text() == "70.0%"
    assert page.locator('[data-field="faces"]').inner_text() == "10"
    assert page.locator('[data-field="sightings"]').inner_text() == "10"  # posted frames: one sighting a face
    day_points = int(chart.get_attribute("data-points"))
    values = sorted(float(v) for v in page.locator("#index-chart circle.index-dot").evaluate_all(
        "dots => dots.map(d => d.dataset.value)"))
    assert values == [0.5, 0.75]  # the two days with faces, in the seeded order of values
    assert page.locator("#index-chart svg .ci-band").count() == 2  # one interval per day with faces
    assert page.locator("#emotions-chart rect[data-key='happy']").count() == 2
    assert page.locator("#index-chart circle.index-dot.low-count").count() == 2  # days of 2 and 8 faces
    assert "model's own rates" in page.locator('[data-field="rates"]').inner_text()
    page.screenshot(path=str(artifacts / "dashboard-location.png"), full_page=True)
    print(f"screenshot: {artifacts / 'dashboard-location.png'}")
    page.select_option("#bucket", "hour")
    # expect() polls without evaluating strings in the page, which the dashboard's CSP forbids
    expect(chart).not_to_have_attribute("data-points", str(day_points))
    hour_points = int(chart.get_attribute("data-points"))
    assert hour_points == _series_length(live_server.url, seeded["Museum Square"], page) and hour_points > 24 * 29
    assert console.errors == []


def _series_length(base_url: str, location_id: int, page) -> int:
    params = page.evaluate("""() => { const to = new Date(document.getElementById('to').value + 'T00:00:00Z');
        to.setUTCDate(to.getUTCDate() + 1);
        return {bucket: 'hour', from: document.getElementById('from').value + 'T00:00:00Z', to: to.toISOString()}; }""")
    response = httpx.get(f"{base_url}/locations/{location_id}/happiness-index", params=params,
                         headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    return len(response.json()["series"])


def test_empty_location_says_no_faces_yet(page_with_token, seeded):
    page, console = page_with_token
    page.goto(f"/dashboard/location.html?id={seeded['Quiet Park']}")
    page.locator("#status .message.empty").wait_for()
    assert "No faces yet" in page.locator("#status").inner_text()
    assert page.locator("#index-chart").is_hidden()
    assert console.errors == []


def test_token_flow(browser, live_server, seeded):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/dashboard/")
    alert = page.locator("#status [role=alert]")
    alert.wait_for()
    assert "Enter a viewer or admin token" in alert.inner_text()
    page.fill("#token-input", "wrong-token")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("invalid token")
    page.fill("#token-input", VIEWER_TOKEN)
    page.click("#token-form button[type=submit]")
    card(page, "Museum Square").wait_for()
    assert page.evaluate("sessionStorage.getItem('happiness.token')") == VIEWER_TOKEN
    page.goto(f"/dashboard/location.html?id={seeded['Museum Square']}")  # kept for the session: no second prompt
    page.locator("#index-chart svg.chart").wait_for()
    page.click("#token-forget")
    assert page.evaluate("sessionStorage.getItem('happiness.token')") is None
    context.close()


def test_analyze_page_shows_the_annotated_image(browser, live_server, artifacts):
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(f"sessionStorage.setItem('happiness.token', '{ADMIN_TOKEN}')")
    page = context.new_page()
    console = Console(page)
    page.goto("/dashboard/analyze.html")
    page.set_input_files("#image", {"name": "test.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(160, 120)})
    page.click("#analyze-form button[type=submit]")
    expect(page.locator('[data-field="Faces"]')).to_have_text("2")
    assert page.locator('[data-field="Happy"]').inner_text() == "1"
    assert page.locator('[data-field="Unread"]').inner_text() == "0"
    expect(page.locator("#annotated")).to_have_js_property("naturalWidth", 160)  # the JPEG decoded
    page.screenshot(path=str(artifacts / "dashboard-analyze.png"), full_page=True)
    assert console.errors == []
    context.close()
