"""Cameras of a location and their keys (made in service.security.keys: 32 random bytes, shown
once, stored only as a SHA-256 hash)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.audit import service as audit
from service.security.actors import SYSTEM, Actor
from service.cameras import repository
from service.db.tables import Camera, utc_now
from service.api.errors import Conflict, NotFound
from service.locations.service import get_location
from service.security.keys import hash_key, new_key



@dataclass(frozen=True)
class IssuedKey:
    camera: Camera
    api_key: str


def _give_new_key(camera: Camera) -> str:
    """Store the hash and the visible prefix of a fresh key on `camera`; return the key."""
    key = new_key()
    camera.key_hash, camera.key_prefix = hash_key(key), key[:12]
    return key


def create_camera(session: Session, location_id: int, name: str, actor: Actor = SYSTEM) -> IssuedKey:
    get_location(session, location_id)
    camera = Camera(location_id=location_id, name=name)
    key = _give_new_key(camera)
    repository.add(session, camera)
    _record(session, actor, "camera.create", camera, name=name)
    return IssuedKey(camera, key)


def list_cameras(session: Session, location_id: int) -> list[Camera]:
    get_location(session, location_id)
    return repository.list_for_location(session, location_id)


def get_camera(session: Session, location_id: int, camera_id: int) -> Camera:
    camera = repository.get(session, camera_id)
    if camera is None or camera.location_id != location_id:
        raise NotFound(f"camera {camera_id} does not exist at location {location_id}")
    return camera


def revoke_camera(session: Session, location_id: int, camera_id: int, actor: Actor = SYSTEM) -> Camera:
    camera = get_camera(session, location_id, camera_id)
    if camera.revoked_at is None:
        camera.revoked_at = utc_now()
        session.flush()
        _record(session, actor, "camera.revoke", camera)
    return camera


def rotate_key(session: Session, location_id: int, camera_id: int, actor: Actor = SYSTEM) -> IssuedKey:
    """A new key replaces the old one at once; the camera's counts stay with it."""
    camera = get_camera(session, location_id, camera_id)
    if camera.revoked_at is not None:
        raise Conflict(f"camera {camera_id} is revoked; create a new camera instead")
    key = _give_new_key(camera)
    session.flush()
    _record(session, actor, "camera.rotate", camera, key_prefix=camera.key_prefix)
    return IssuedKey(camera, key)


def _record(session: Session, actor: Actor, action: str, camera: Camera, **detail) -> None:
    audit.record(session, actor, action, audit.camera_target(camera.id), location_id=camera.location_id, **detail)
