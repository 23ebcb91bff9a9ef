"""`happiness audit`: list or export the audit log (JSON lines or CSV) from a shell."""

from __future__ import annotations

import argparse
import csv
import re
import sys
from datetime import UTC, datetime, timedelta

from service.audit.schemas import AuditEntryOut

PAGE = 5000
SINCE_HELP = "entries from this time on: ISO-8601 (2026-06-01, 2026-06-01T08:00Z) or an age such as 7d, 12h, 30m"


def add_audit_command(commands) -> None:
    audit = commands.add_parser(
        "audit", help="list or export the audit log (who did what, when)",
        description="Every admin action (locations, cameras, pauses, settings, prunes, calibrations) "
        "with who did it (a token fingerprint, `cli` or `system`), when, and the HTTP request id. "
        "Kept at least HAPPINESS_AUDIT_RETENTION_DAYS (183 by default).")
    audit.add_argument("--format", choices=("json", "csv"), default="json",
                       help="json: one JSON object per line (default); csv: a header row, then one row per entry")
    audit.add_argument("--since", type=since, help=SINCE_HELP)
    audit.add_argument("--until", type=since, help="entries before this time (same forms as --since)")
    audit.add_argument("--action", help="one action (location.create) or a family ending in a dot (camera.)")
    audit.set_defaults(func=run_audit)


def since(text: str) -> datetime:
    """An ISO-8601 time (UTC when it names no zone) or an age before now: 7d, 12h, 30m."""
    age = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if age:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[age.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {SINCE_HELP}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def run_audit(args) -> int:
    from service.audit.endpoints import CSV_COLUMNS, csv_row
    from service.audit.service import entries
    from service.db.sessions import session_scope

    writer = csv.writer(sys.stdout, lineterminator="\r\n") if args.format == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    after_id, written = 0, 0
    with session_scope(read_only=True) as session:
        while page := entries(session, args.since, args.until, args.action, after_id, PAGE):
            for entry in map(AuditEntryOut.model_validate, page):
                if writer:
                    writer.writerow(csv_row(entry))
                else:
                    print(entry.model_dump_json())
            after_id, written = page[-1].id, written + len(page)
    print(f"{written} audit entries", file=sys.stderr)
    return 0
