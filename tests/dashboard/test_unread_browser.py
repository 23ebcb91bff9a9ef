"""Faces too small to read on the dashboard, in a real browser against a live server: the overview
card and the location page show them beside the faces read, the page says the share counts the
read ones only, and a place whose every face was too small says so instead of "no faces"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from support import ADMIN, VIEWER_TOKEN, add_location, post_frame_at

# Far Plaza: one posted frame of 1 happy + 1 sad read and 3 unread faces, and an agent's 10 people
# (5 happy) and 4 unread people seen 60 times -> 12 faces read, 7 too small to read, 65 sightings,
# index 6/12 = 50%. Distant Corner: one frame of 2 unread faces only.


@pytest.fixture(scope="module")
def places(live_server) -> dict[str, int]:
    now = datetime.now(UTC)
    with httpx.Client(base_url=live_server.url, headers=ADMIN, timeout=10) as api:
        ids = {name: add_location(api, name)["id"] for name in ("Far Plaza", "Distant Corner")}
        keys = {name: api.post(f"/locations/{ids[name]}/cameras", json={"name": "cam"}).json()["api_key"]
                for name in ids}
        for name, labels, unread in (("Far Plaza", ("happy", "sad"), 3), ("Distant Corner", (), 2)):
            live_server.pipeline.labels, live_server.pipeline.unread = labels, unread
            post_frame_at(api, ids[name], keys[name], now - timedelta(minutes=5))
        _post_observation(api, ids["Far Plaza"], keys["Far Plaza"], now - timedelta(hours=1))
    live_server.pipeline.labels, live_server.pipeline.unread = ("happy", "sad"), 0
    return ids


def _post_observation(api: httpx.Client, location_id: int, key: str, start: datetime) -> None:
    start = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    observation = {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(), "people": 10,
                   "happy": 5, "emotions": {"happy": 5, "neutral": 5}, "unread": 4, "sightings": 60, "frames": 900}
    response = api.post(f"/locations/{location_id}/observations", json={"batch_id": "b1", "observations": [observation]},
                        headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text


@pytest.fixture
def page(browser, live_server):
    """A page whose session holds the viewer token; the errors of its console are collected."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('happiness.token', '{VIEWER_TOKEN}')")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    yield page
    context.close()


def test_the_overview_card_shows_faces_read_beside_those_too_small(page, places):
    page.goto("/dashboard/")
    card = page.locator('li.card[data-name="Far Plaza"]')
    card.wait_for()
    assert (card.locator('[data-field="faces"]').inner_text(), card.locator('[data-field="unread"]').inner_text(),
            card.locator('[data-field="sightings"]').inner_text()) == ("12", "7", "65")
    assert "too small to read" in card.inner_text() and "faces read" in card.inner_text()
    assert page.console_errors == []


def test_the_location_page_counts_unread_apart_from_the_share(page, places, artifacts):
    page.goto(f"/dashboard/location.html?id={places['Far Plaza']}")
    page.locator("#index-chart svg.chart").wait_for()
    assert page.locator('[data-field="index"]').inner_text() == "50.0%"  # 6 happy of 12 read: unread left out
    assert (page.locator('[data-field="faces"]').inner_text(),
            page.locator('[data-field="unread"]').inner_text()) == ("12", "7")
    note = page.locator('[data-field="unread-note"]').inner_text()
    assert note.startswith("12 faces read, 7 too small to read") and "never in the share" in note
    headers = page.locator("#table thead th").all_text_contents()  # as written, not as styled
    column = headers.index("too small to read")
    cells = [row.locator("td").nth(column).text_content() for row in page.locator("#table tbody tr").all()]
    assert sum(int(cell) for cell in cells) == 7 and cells.count("0") >= len(cells) - 2  # the last day or two
    page.screenshot(path=str(artifacts / "dashboard-unread.png"), full_page=True)
    assert page.console_errors == []


def test_a_place_with_only_faces_too_small_says_so(page, places):
    page.goto(f"/dashboard/location.html?id={places['Distant Corner']}")
    page.locator("#status .message.empty").wait_for()
    status = page.locator("#status").inner_text()
    assert "No faces read yet" in status and "2 seen were too small to read" in status
    assert page.locator('[data-field="unread"]').inner_text() == "2"
    assert page.locator("#index-chart").is_hidden()
    assert page.console_errors == []
