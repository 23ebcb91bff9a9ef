"""The audit log: every admin action appended in the same transaction as the action itself, so
that no change is stored without its entry. Who acted is a fingerprint of the token (never the
token), `cli` for the command line or `system` for the service's own jobs; the request id ties
an entry to the HTTP request (echoed to the client in X-Request-ID)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.audit import repository
from service.db import leases
from service.db.tables import AuditEntry, utc_now
from service.security.actors import SYSTEM, Actor, token_fingerprint

def record(session: Session, actor: Actor, action: str, target: str | None = None,
           **detail: Any) -> AuditEntry:
    """Append one entry (flushed, committed with the caller's transaction). `detail` is kept
    small: the fields changed, never a secret."""
    entry = AuditEntry(at=utc_now(), actor=actor.id, action=action, target=target,
                       detail=to_jsonable_python(detail), request_id=actor.request_id)
    return repository.add(session, entry)


def entries(session: Session, start: datetime | None = None, end: datetime | None = None,
            action: str | None = None, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]:
    """Entries in time order; `action` matches exactly, or a whole family with a trailing dot
    (`camera.` is every camera action)."""
    return repository.between(session, start, end, action, after_id, limit)


def location_target(location_id: int) -> str:
    return f"location:{location_id}"


def camera_target(camera_id: int) -> str:
    return f"camera:{camera_id}"


# --- settings ---------------------------------------------------------------------------------

SECRET_SETTINGS = ("admin_token", "viewer_token")


def settings_snapshot(settings) -> dict[str, Any]:
    """The settings as the audit log keeps them: tokens as fingerprints, the database address
    without its password."""
    values = settings.model_dump(mode="json", exclude={*SECRET_SETTINGS, "database_url"})
    values["database_url"] = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    values["admin_token"] = token_fingerprint("admin", settings.admin_secret)
    viewer = settings.viewer_token
    values["viewer_token"] = token_fingerprint("viewer", viewer.get_secret_value()) if viewer else None
    return values


def record_settings(session: Session, settings) -> AuditEntry | None:
    """Append `settings.change` when the settings differ from those of the last entry (the
    first start records them all). Workers starting together take turns on a lease row, so
    one change is recorded once."""
    leases.hold(session, "settings-audit")
    previous = repository.latest(session, "settings.change")
    before = previous.detail.get("settings", {}) if previous else {}
    now = settings_snapshot(settings)
    changed = {key: [before.get(key), now.get(key)] for key in sorted({*before, *now})
               if before.get(key) != now.get(key)}
    if not changed:
        return None
    return record(session, SYSTEM, "settings.change", None, changed=changed, settings=now)
