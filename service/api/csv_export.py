"""The one CSV writer of the API (the index's series and city overview, the audit log): every
text cell neutralised against spreadsheet formulas and quoted, numbers bare."""

from __future__ import annotations

import csv
import io

from fastapi import Response

# a text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell):
    """A text cell a spreadsheet shows as text: a leading single quote before a formula trigger.
    Numbers stay numbers (a negative slope is a value, not a formula)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_TRIGGERS):
        return "'" + cell
    return cell


def csv_response(rows: list[list], filename: str) -> Response:
    """The one CSV writer: every text cell neutralised and quoted, numbers bare."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)  # RFC 4180 line ends
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
