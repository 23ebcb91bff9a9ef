"""Public pages, no token: a location's notice for signage, its public page with its figures, the
QR code alone (SVG or PNG, for a city's own sign design) and the model's limits. Each page
holds itself to this origin (Content-Security-Policy) and runs no script."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from service.db.tables import utc_now
from service.api.deps import LocationId, ReadSessionDep, SettingsDep
from service.api.errors import NotFound, problem_responses
from service.api.model import get_model_info
from service.locations.service import get_location
from service.notice import service

router = APIRouter(tags=["public pages"])
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
HTML = {200: {"content": {"text/html": {}}, "description": "An HTML page"}}


def base_url(request: Request, settings) -> str:
    """HAPPINESS_PUBLIC_BASE_URL, else the address this request came to."""
    return settings.public_base_url or str(request.base_url).rstrip("/")


def page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/locations/{location_id}/notice", response_class=HTMLResponse,
            responses={**HTML, **problem_responses(NotFound)})
def notice(location_id: LocationId, request: Request, session: ReadSessionDep, settings: SettingsDep):
    """The transparency notice for signage at the location (EU AI Act Art. 50(3)): printable
    on A4, with what is measured, what is not kept, who runs it, the retention and a QR code
    to the location's public page."""
    location = get_location(session, location_id)
    return page(service.notice_html(location, settings, base_url(request, settings)))


QR_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


@router.get("/locations/{location_id}/notice/qr.{kind}", responses={
    200: {"content": {media: {} for media in QR_TYPES.values()}, "description": "The QR code"},
    **problem_responses(NotFound)})
def notice_qr(location_id: LocationId, kind: Literal["svg", "png"], request: Request, session: ReadSessionDep,
              settings: SettingsDep):
    """The notice's QR code (to the public page) alone, as SVG or PNG (10 pixels a module), for a
    sign of the city's own design."""
    get_location(session, location_id)
    url = service.public_page_url(base_url(request, settings), location_id)
    image = service.qr_svg(url) if kind == "svg" else service.qr_png(url)
    return Response(image, media_type=QR_TYPES[kind], headers=PAGE_HEADERS)


@router.get("/locations/{location_id}/public", response_class=HTMLResponse,
            responses={**HTML, **problem_responses(NotFound)})
def public_page(location_id: LocationId, request: Request, session: ReadSessionDep, settings: SettingsDep):
    """The location's public page, where the notice's QR code leads: its share of
    happy-classified faces over the last 30 days and per day, and what the figure cannot tell."""
    location = get_location(session, location_id)
    figures = service.public_figures(session, location_id, get_model_info(request), settings, utc_now())
    return page(service.public_html(location, figures, settings))


@router.get("/limits", response_class=HTMLResponse, responses={**HTML, **problem_responses(NotFound)})
def limits():
    """What the happiness index can and cannot tell (docs/LIMITS.md)."""
    html = service.limits_html()
    if html is None:
        raise NotFound("docs/LIMITS.md is not installed with this copy of the service")
    return page(html)
