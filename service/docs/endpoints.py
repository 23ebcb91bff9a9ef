"""The API docs, /docs (Swagger UI) and /redoc (ReDoc), served from this process: their
scripts and styles come from the fastapi-offline package's copies, never from a CDN, so the
pages work offline and load nothing off this origin, which their Content-Security-Policy
enforces (inline styles are allowed: both renderers set style attributes; ReDoc runs its
search in a worker made from a blob)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Cache-Control": "no-cache",
}
ASSET_CACHE = "public, max-age=86400"  # versioned with the installed package; a day is plenty

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> FileResponse:
    return FileResponse(STATIC_DIR / "swagger.html", headers=PAGE_HEADERS)


@router.get("/redoc")
def redoc() -> FileResponse:
    return FileResponse(STATIC_DIR / "redoc.html", headers=PAGE_HEADERS)


class CachedFiles(StaticFiles):
    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = ASSET_CACHE
        return response


def install_docs(app: FastAPI) -> None:
    """Call with FastAPI(docs_url=None, redoc_url=None): these replace FastAPI's CDN pages."""
    app.include_router(router)
    app.mount("/docs/assets", CachedFiles(directory=ASSETS_DIR), name="docs-assets")
    app.mount("/docs/static", CachedFiles(directory=STATIC_DIR), name="docs-static")
