from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str = Field(description="`admin:<fingerprint>` (a hash of the token, never the token), `cli` or `system`.")
    action: str = Field(examples=["camera.revoke"])
    target: str | None = Field(description="What was acted on, e.g. `location:3`, `camera:7`.")
    detail: dict[str, Any]
    request_id: str | None = Field(description="The X-Request-ID of the HTTP request; null from the CLI.")


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after_id: int | None = Field(description="Pass as `after_id` for the next page; null on the last.")
