"""The API docs pages in headless Chromium with no network: /docs (Swagger UI) and /redoc render
the service's operations, every request they make stays on the service's origin, and their
Content-Security-Policy is never violated. Before: both loaded their scripts from a CDN and
rendered nothing offline."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path, rendered", [
    ("/docs", ".swagger-ui .opblock-summary-path[data-path='/locations/{location_id}/frames']"),
    ("/redoc", "h2:has-text('Count people seen by an edge device')"),
])
def test_docs_render_offline_from_this_origin(browser, live_server, artifacts, path, rendered):
    context = browser.new_context(base_url=live_server.url)
    requests, problems = [], []
    context.route("**/*", lambda route: (requests.append(route.request.url),
                                         route.continue_() if route.request.url.startswith(live_server.url)
                                         else route.abort()))
    page = context.new_page()
    page.on("console", lambda message: message.type in ("error", "warning") and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.goto(path)
    page.locator(rendered).first.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / f"api-docs{path.replace('/', '-')}.png"))
    context.close()
    assert requests and all(url.startswith(live_server.url) for url in requests), requests
    # ReDoc's attribution logo points at its CDN: the policy blocks it (an image, nothing breaks);
    # a script, style, worker or fetch the policy blocked would break the page
    broken = [p for p in problems if "uncaught" in p or ("Content Security Policy" in p and "img-src" not in p)]
    assert not broken, problems
