"""The dashboard: static HTML, CSS and JavaScript under /dashboard, and the service's address (/)
leads there. The pages are public (they hold no data); their data calls go to the API with the
reader's token, so access is the API's.
A Content-Security-Policy keeps the pages from loading or sending anything off this origin."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # revalidate every load so that an upgraded service never runs yesterday's scripts
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def service_root() -> RedirectResponse:
    """A person who opens the service's address lands on the dashboard (its header links the API
    docs; a location's page links its public notice)."""
    return RedirectResponse("/dashboard/", status_code=307)


@router.get("/dashboard")
def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=307)


class DashboardFiles(StaticFiles):
    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_dashboard(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/dashboard", DashboardFiles(directory=STATIC_DIR, html=True), name="dashboard")
