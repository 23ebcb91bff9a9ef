"""The public pages of a location, for the people it films: the notice printed for signage at the
place (what is measured and what is not, who runs it, how long counts are kept, a QR code to the
public page), the public page (its current figures, on the index service and its publishing
rules, and the model's limits) and docs/LIMITS.md rendered. Server-rendered HTML without
scripts; the QR code is made here by segno, nothing is fetched from elsewhere."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.orm import Session

from service.config import REPO_ROOT, Settings
from service.db.tables import Location
from service.index import service as index
from service.api.model import ModelInfo
from service.index.schemas import LocationIndex

TEMPLATES = Path(__file__).parent / "templates"
LIMITS_FILE = REPO_ROOT / "docs" / "LIMITS.md"
PUBLIC_RANGE = timedelta(days=30)
RECENT_DAYS = 14
QR_ERROR_LEVEL = "m"  # survives ~15% damage: a weathered or scratched sign still scans


@cache
def templates() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(percent=percent, count=lambda number: f"{number:,}")
    return environment


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def public_page_url(base_url: str, location_id: int) -> str:
    return f"{base_url.rstrip('/')}/locations/{location_id}/public"


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error=QR_ERROR_LEVEL, micro=False)


def qr_svg(url: str) -> str:
    """The QR code as an SVG element that scales with the page (no fixed size)."""
    return qr_code(url).svg_inline(scale=1, omitsize=True, title=url)


def qr_png(url: str, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    qr_code(url).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


@dataclass(frozen=True)
class Operator:
    name: str | None
    contact: str | None

    @property
    def configured(self) -> bool:
        return bool(self.name and self.contact)


def operator_of(settings: Settings) -> Operator:
    return Operator(settings.operator_name, settings.operator_contact)


def notice_html(location: Location, settings: Settings, base_url: str) -> str:
    url = public_page_url(base_url, location.id)
    return templates().get_template("notice.html").render(
        location=location, operator=operator_of(settings), retention_days=settings.retention_days,
        public_url=url, qr=Markup(qr_svg(url)), base_url_configured=settings.public_base_url is not None)


def public_figures(session: Session, location_id: int, model: ModelInfo, settings: Settings,
                   now: datetime) -> LocationIndex:
    """The location's last 30 local days through the index service as a public read answers
    them: a day or range with fewer faces than HAPPINESS_MIN_PUBLISHED_FACES has its values
    withheld."""
    query = index.make_query(now - PUBLIC_RANGE, now, "day", model, settings.trend_min_faces, now,
                             settings.min_published_faces, public=True)
    return index.location_index(session, location_id, query)


def public_html(location: Location, figures: LocationIndex, settings: Settings) -> str:
    zone = ZoneInfo(figures.timezone)
    recent = [(point.start.astimezone(zone).date(), point) for point in reversed(figures.series[-RECENT_DAYS:])]
    return templates().get_template("public.html").render(
        location=location, figures=figures, recent=recent, operator=operator_of(settings),
        retention_days=settings.retention_days, limits_available=LIMITS_FILE.is_file(),
        min_published_faces=settings.min_published_faces)


def limits_html() -> str | None:
    """docs/LIMITS.md as HTML (raw HTML in the file is not passed through), or None when this
    installation has no docs folder."""
    if not LIMITS_FILE.is_file():
        return None
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(LIMITS_FILE.read_text())
    return templates().get_template("limits.html").render(body=Markup(body))
