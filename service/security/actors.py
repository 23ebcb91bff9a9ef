"""Who acts, as the audit log names them: the admin or a viewer by a fingerprint of their token
(never the token), `cli` for the command line, `system` for the service's own jobs. Made by
auth, written by audit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FINGERPRINT_HEX = 12  # 48 bits of SHA-256: tells tokens apart, reveals nothing of a 32+ character secret


@dataclass(frozen=True)
class Actor:
    """Who performs an action: `admin:<fingerprint>`, `viewer:<fingerprint>`, `cli` or `system`."""

    id: str
    request_id: str | None = None


CLI = Actor("cli")
SYSTEM = Actor("system")  # the service's own jobs (the background prune) and calls made by code


def token_fingerprint(role: str, secret: str) -> str:
    """A short, stable id of a token for the log, e.g. `admin:3fa9c2e1b0d4`."""
    return f"{role}:{hashlib.sha256(secret.encode()).hexdigest()[:FINGERPRINT_HEX]}"
