"""Who is calling: the admin (HAPPINESS_ADMIN_TOKEN), a viewer (HAPPINESS_VIEWER_TOKEN) or a
camera (its own key, valid only for its own location). Tokens come as `Authorization: Bearer`
or `X-API-Key`; secrets are compared in constant time and camera keys are stored hashed."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.cameras import repository as cameras
from service.cameras.service import CAMERA_KEY_PREFIX, hash_key
from service.deps import LocationId, SettingsDep
from service.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from service.locations import repository as locations

def presented_credential(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def _matches(candidate: str, secret: str | None) -> bool:
    return secret is not None and hmac.compare_digest(candidate.encode(), secret.encode())


def _role_of(credential: str, settings) -> str | None:
    if _matches(credential, settings.admin_secret):
        return "admin"
    viewer = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    return "viewer" if _matches(credential, viewer) else None


def require_admin(request: Request, settings: SettingsDep) -> None:
    credential = presented_credential(request)
    if credential is None:
        raise Unauthorized("admin token required: send `Authorization: Bearer <token>`")
    role = _role_of(credential, settings)
    if role == "admin":
        return
    if role == "viewer" or credential.startswith(CAMERA_KEY_PREFIX):
        raise Forbidden("this credential cannot use admin endpoints")
    raise Unauthorized("invalid admin token")


def require_reader(request: Request, settings: SettingsDep) -> None:
    if settings.public_read:
        return
    credential = presented_credential(request)
    if credential is None:
        raise Unauthorized("a viewer or admin token is required: send `Authorization: Bearer <token>`")
    if _role_of(credential, settings) is None:
        if credential.startswith(CAMERA_KEY_PREFIX):
            raise Forbidden("camera keys can only post frames")
        raise Unauthorized("invalid token")


@dataclass(frozen=True)
class CameraIdentity:
    id: int
    location_id: int


def require_camera(location_id: LocationId, request: Request) -> CameraIdentity:
    """The camera behind the key, allowed only at its own location. It uses a short session of
    its own so that no transaction stays open while the frame is analysed."""
    credential = presented_credential(request)
    if credential is None:
        raise Unauthorized("camera key required: send `Authorization: Bearer <key>` or `X-API-Key`")
    with request.app.state.session_factory() as session:
        camera = cameras.find_by_key_hash(session, hash_key(credential))
        if camera is None or camera.revoked_at is not None:
            raise Unauthorized("unknown or revoked camera key")
        if camera.location_id != location_id:
            _refuse_other_location(session, camera.location_id, location_id)
    _enforce_rate_limit(request, camera.id)
    return CameraIdentity(camera.id, camera.location_id)


def _enforce_rate_limit(request: Request, camera_id: int) -> None:
    wait = request.app.state.rate_limiter.retry_after(camera_id)
    if wait:
        raise TooManyRequests(f"camera {camera_id} is over its frame rate limit; retry in {wait} s", wait)


def _refuse_other_location(session, own_location_id: int, location_id: int) -> None:
    if locations.get(session, location_id) is None:
        raise NotFound(f"location {location_id} does not exist")
    raise Forbidden(f"this camera key belongs to location {own_location_id}, not {location_id}")


AdminDep = Annotated[None, Depends(require_admin)]
ReaderDep = Annotated[None, Depends(require_reader)]
CameraDep = Annotated[CameraIdentity, Depends(require_camera)]
