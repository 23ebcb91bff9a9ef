"""Who is calling: the admin (HAPPINESS_ADMIN_TOKEN), a viewer (HAPPINESS_VIEWER_TOKEN) or a
camera (its own key, valid only for its own location). Tokens come as `Authorization: Bearer`
or `X-API-Key`; secrets are compared in constant time and camera keys are stored hashed.

Camera keys are checked against the database and then remembered by this process for
CAMERA_KEY_CACHE_SECONDS (see CameraKeyCache): a camera sends its key with every frame, and the
lookup was a large share of a frame's server time. The cache only spares the lookup: a frame's
counts are written only while its key is still the camera's, unrevoked, checked inside the
frame's own write transaction (service.frames.repository), so a revocation, rotation or
deletion stops the counting at once in every worker and replica.

Failed authentication is throttled per client address (service.security.throttle)."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import event, select

from service.security.request_id import request_id_of
from service.security.actors import Actor, token_fingerprint
from service.security.keys import CAMERA_KEY_PREFIX, UNKNOWN_KEY, hash_key
from service.db.tables import Camera, Location
from service.api.deps import LocationId, SettingsDep
from service.api.errors import Forbidden, NotFound, TooManyRequests, Unauthorized

CAMERA_KEY_CACHE_SECONDS = 5.0
CAMERA_KEY_CACHE_ENTRIES = 100_000  # valid keys only, so about one per camera; a bound all the same

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


def _client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse_if_throttled(request: Request) -> None:
    """429 while this client is over its failed-authentication limit."""
    client = _client_of(request)
    wait = request.app.state.auth_throttle.retry_after(client)
    if wait:
        raise TooManyRequests(f"too many failed authentications from {client}; retry in {wait} s", wait)


def _failed(request: Request, detail: str) -> Unauthorized:
    """The 401 of a credential that did not check out, counted against its client (or the 429
    of a client already over its limit)."""
    _refuse_if_throttled(request)
    request.app.state.auth_throttle.record_failure(_client_of(request))
    return Unauthorized(detail)


def require_admin(request: Request, settings: SettingsDep) -> Actor:
    """The admin, as the audit log names them: the token's fingerprint and the request id."""
    credential = presented_credential(request)
    if credential is None:
        raise Unauthorized("admin token required: send `Authorization: Bearer <token>`")
    role = _role_of(credential, settings)
    if role == "admin":
        return Actor(token_fingerprint("admin", credential), request_id_of(request))
    if role == "viewer" or credential.startswith(CAMERA_KEY_PREFIX):
        raise Forbidden("this credential cannot use admin endpoints")
    raise _failed(request, "invalid admin token")


@dataclass(frozen=True)
class Reader:
    """Who reads: `token` is True for a valid viewer or admin token, False for public read
    (HAPPINESS_PUBLIC_READ without one), where low-count values are withheld."""

    token: bool


def require_reader(request: Request, settings: SettingsDep) -> Reader:
    """A valid viewer or admin token reads everything; no credential at all reads the public view
    under HAPPINESS_PUBLIC_READ. A credential that was sent but does not check out is refused
    even then: a mistyped or revoked token must not quietly get a different answer."""
    credential = presented_credential(request)
    if credential is not None and _role_of(credential, settings) is not None:
        return Reader(token=True)
    if credential is None:
        if settings.public_read:
            return Reader(token=False)
        raise Unauthorized("a viewer or admin token is required: send `Authorization: Bearer <token>`")
    if credential.startswith(CAMERA_KEY_PREFIX):
        raise Forbidden("camera keys can only post frames")
    raise _failed(request, "invalid token")


@dataclass(frozen=True)
class CameraIdentity:
    id: int
    location_id: int
    key_hash: str  # the key it was found by: its frames count only while it is still the camera's


class CameraKeyCache:
    """Camera keys this process found valid, by key hash, each for `ttl_seconds`.

    Only valid keys are kept, so an unknown key always reaches the database. A flush through a
    watched session factory that changes or deletes a camera (revoke, rotate) or deletes a
    location empties the cache, and so does its commit. A lookup that began before such a
    change and ends after it is not stored (the generation counter): it may have read the
    old row, and the change would otherwise be undone here until the entry expires."""

    def __init__(self, ttl_seconds: float = CAMERA_KEY_CACHE_SECONDS, clock=time.monotonic) -> None:
        self.ttl_seconds, self.clock = ttl_seconds, clock
        self.generation = 0
        self._entries: dict[str, tuple[CameraIdentity, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> CameraIdentity | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def put(self, key_hash: str, camera: CameraIdentity, generation: int) -> None:
        """Remember `camera` unless the cache was invalidated since `generation` was read."""
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= CAMERA_KEY_CACHE_ENTRIES:
                self._entries.clear()
            self._entries[key_hash] = (camera, self.clock() + self.ttl_seconds)

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def watch(self, session_factory) -> None:
        """Invalidate on every flush of `session_factory`'s sessions that changes cameras or
        deletes locations, and again when that session commits."""
        event.listen(session_factory, "after_flush", self._after_flush)
        event.listen(session_factory, "after_commit", self._after_commit)

    def _after_flush(self, session, _context) -> None:
        if _changes_camera_keys(session):
            session.info["camera_keys_changed"] = True
            self.invalidate()

    def _after_commit(self, session) -> None:
        if session.info.pop("camera_keys_changed", False):
            self.invalidate()


def _changes_camera_keys(session) -> bool:
    """A revoked or rotated camera is dirty; a deleted location takes its cameras with it.
    (after_flush still sees the flushed rows in `dirty` and `deleted`.)"""
    return (any(isinstance(row, Camera) for row in (*session.dirty, *session.deleted))
            or any(isinstance(row, Location) for row in session.deleted))


async def require_camera(location_id: LocationId, request: Request) -> CameraIdentity:
    """The camera behind the key, allowed only at its own location. A key this process checked
    moments ago is answered from memory; otherwise it is looked up in a short read session of
    its own (in a worker thread), so that no transaction stays open while the frame is analysed
    and, on SQLite, the lookup never waits for another frame's write lock."""
    credential = presented_credential(request)
    if credential is None:
        raise Unauthorized("camera key required: send `Authorization: Bearer <key>` or `X-API-Key`")
    key_hash = hash_key(credential)
    camera = request.app.state.camera_keys.get(key_hash)
    if camera is None or camera.location_id != location_id:
        _refuse_if_throttled(request)  # before the lookup: each costs a database query
        camera = await run_in_threadpool(_camera_from_database, request.app.state, key_hash, location_id)
        if camera is None:
            raise _failed(request, UNKNOWN_KEY)
    _enforce_rate_limit(request, camera.id)
    return camera


def _camera_from_database(state, key_hash: str, location_id: int) -> CameraIdentity | None:
    """The camera of a valid key (None for an unknown or revoked one), remembered in the cache."""
    generation = state.camera_keys.generation  # read before the row: see CameraKeyCache
    with state.read_session_factory() as session:
        camera = session.scalars(select(Camera).where(Camera.key_hash == key_hash)).first()
        if camera is None or camera.revoked_at is not None:
            return None
        identity = CameraIdentity(camera.id, camera.location_id, key_hash)
        if camera.location_id != location_id:
            _refuse_other_location(session, camera.location_id, location_id)
    state.camera_keys.put(key_hash, identity, generation)
    return identity


def _enforce_rate_limit(request: Request, camera_id: int) -> None:
    wait = request.app.state.rate_limiter.retry_after(camera_id)
    if wait:
        raise TooManyRequests(f"camera {camera_id} is over its frame rate limit; retry in {wait} s", wait)


def _refuse_other_location(session, own_location_id: int, location_id: int) -> None:
    if session.get(Location, location_id) is None:
        raise NotFound(f"location {location_id} does not exist")
    raise Forbidden(f"this camera key belongs to location {own_location_id}, not {location_id}")


AdminDep = Annotated[Actor, Depends(require_admin)]
ReaderDep = Annotated[Reader, Depends(require_reader)]
CameraDep = Annotated[CameraIdentity, Depends(require_camera)]
