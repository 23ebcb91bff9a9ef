"""GET /audit (admin): the audit log, filtered by time and action, as JSON pages or CSV."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from service.audit import service
from service.audit.schemas import AuditEntryOut, AuditPage
from service.security.auth import AdminDep
from service.api.deps import ReadSessionDep
from service.api.errors import Forbidden, InvalidInput, Unauthorized, problem_responses
from service.api.csv_export import csv_response
from service.api.inputs import Instant

router = APIRouter(tags=["audit"])
MAX_PAGE = 10_000
CSV_COLUMNS = ("id", "at", "actor", "action", "target", "detail", "request_id")


@router.get("/audit", response_model=AuditPage,
            responses={200: {"content": {"text/csv": {}}, "description": "Entries as JSON or (format=csv) CSV"},
                       **problem_responses(Unauthorized, Forbidden, InvalidInput)})
def audit_log(
    session: ReadSessionDep, _: AdminDep,
    start: Annotated[Instant | None, Query(alias="from", description="Entries at or after (ISO-8601).")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="Entries before (ISO-8601).")] = None,
    action: Annotated[str | None, Query(max_length=64, description="An action, e.g. `camera.revoke`, or a family ending in a dot, e.g. `camera.`.")] = None,
    after_id: Annotated[int, Query(ge=0, le=2**31 - 1, description="Only entries after this id (paging).")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
):
    """Who did what and when (admin): every admin action through the API or the CLI and every
    automatic prune, oldest first. Kept at least HAPPINESS_AUDIT_RETENTION_DAYS (183 by default)."""
    if start and end and start >= end:
        raise InvalidInput("`from` must be before `to`")
    rows = [AuditEntryOut.model_validate(entry)
            for entry in service.entries(session, start, end, action, after_id, limit + 1)]
    page, more = rows[:limit], len(rows) > limit
    if output == "csv":
        return csv_response([list(CSV_COLUMNS), *map(csv_row, page)], "audit-log.csv")
    return AuditPage(entries=page, next_after_id=page[-1].id if more else None)


def csv_row(entry: AuditEntryOut) -> list:
    """One entry as CSV cells: detail as compact JSON, empty cells for nulls."""
    return [entry.id, entry.at.isoformat().replace("+00:00", "Z"), entry.actor, entry.action, entry.target or "",
            json.dumps(entry.detail, separators=(",", ":"), sort_keys=True), entry.request_id or ""]
