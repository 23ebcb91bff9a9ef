"""Helpers of the responsible-deployment tests: direct database access beside the app, frame
posting, and reading the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from service.db.engine import make_engine, make_session_factory
from service.db.tables import AuditEntry, Location
from support import ADMIN, bearer, jpeg_bytes


def sessions(database_url: str):
    return make_session_factory(make_engine(database_url))


def set_setting_in_database(database_url: str, location_id: int, setting: str) -> None:
    """As an older version or a hand edit could have left it: the API itself refuses this."""
    with sessions(database_url).begin() as session:
        session.execute(update(Location).where(Location.id == location_id).values(setting=setting))


def post_frame(client, camera: dict, location_id: int | None = None, frame_id: str | None = None,
               captured_at: datetime | None = None):
    data = {key: value for key, value in (("frame_id", frame_id),
                                          ("captured_at", captured_at and captured_at.isoformat())) if value}
    return client.post(f"/locations/{location_id or camera['location_id']}/frames", headers=bearer(camera["api_key"]),
                       data=data, files={"image": ("f.jpg", jpeg_bytes(), "image/jpeg")})


def overall(client, location_id: int, **params) -> dict:
    response = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    return response.json()["overall"]


def audit_entries(database_url: str, action_prefix: str = "") -> list[AuditEntry]:
    with sessions(database_url)() as session:
        query = select(AuditEntry).where(AuditEntry.action.startswith(action_prefix)).order_by(AuditEntry.id)
        return list(session.scalars(query))
