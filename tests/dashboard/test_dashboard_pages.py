"""The dashboard's files as served (no browser needed): public pages, a CSP that keeps them on
this origin, and no reference to anything off it."""

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "service" / "dashboard" / "static"
PAGES = ("index.html", "location.html", "analyze.html")
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an XML name, never fetched


def test_dashboard_redirects_to_its_folder(client):
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/dashboard/"


def test_the_service_address_leads_to_the_dashboard(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/dashboard/"
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "City overview" in page.text


def test_the_dashboard_links_the_api_docs_and_the_public_notice(client):
    assert '"/docs"' in client.get("/dashboard/api.js").text
    location_page = client.get("/dashboard/location.html").text
    assert 'id="notice-link"' in location_page
    assert "/notice`" in client.get("/dashboard/location.js").text


@pytest.mark.parametrize("page", ["", *PAGES])
def test_pages_are_public_html_with_a_strict_csp(client, page):
    response = client.get(f"/dashboard/{page}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_scripts_are_served_as_javascript(client):
    for script in ("api.js", "charts.js", "overview.js", "location.js", "analyze.js"):
        response = client.get(f"/dashboard/{script}")
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]


def test_no_file_refers_to_another_origin():
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), path.name


def test_data_still_needs_a_token(client):
    assert client.get("/happiness-index").status_code == 401
