"""Camera keys: 32 random bytes behind a visible prefix, shown once, stored only as a SHA-256
hash. Issued by the cameras domain, checked by auth; both import them from here."""

from __future__ import annotations

import hashlib
import secrets

CAMERA_KEY_PREFIX = "hcam_"
UNKNOWN_KEY = "unknown or revoked camera key"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return CAMERA_KEY_PREFIX + secrets.token_urlsafe(32)
