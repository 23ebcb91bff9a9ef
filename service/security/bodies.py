"""Request bodies are guarded before any endpoint parses them, in one place:

- a size cap by kind: raw image bodies get the upload limit, multipart forms that plus room
  for boundaries and text fields, every other body (JSON) a small one, checked against Content-Length before reading and
  counted while reading, so a 20 MB JSON body is refused (413) after at most the cap, never
  parsed whole;
- read timeouts: each chunk must arrive within `idle_seconds` and the whole body within
  `total_seconds` (408), so a client trickling a body cannot hold a connection and a worker's
  memory indefinitely;
- a client that disconnects mid-body is logged as such (one line) and answered 499 (the
  status nginx uses for it) instead of surfacing as an unhandled error and a 500 in metrics."""

from __future__ import annotations

import logging
import time

import anyio
from starlette.exceptions import HTTPException

from service.api.errors import problem_response
from service.api.upload import FORM_OVERHEAD_BYTES, RAW_IMAGE_TYPES

log = logging.getLogger(__name__)
CLIENT_CLOSED_REQUEST = 499


class RequestBodyGuard:
    def __init__(self, app, *, json_bytes: int, upload_bytes: int, idle_seconds: float,
                 total_seconds: float) -> None:
        self.app, self.json_bytes, self.upload_bytes = app, json_bytes, upload_bytes
        self.idle_seconds, self.total_seconds = idle_seconds, total_seconds

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = self._limit_for(headers.get(b"content-type", b""))
        declared = _declared_length(headers)
        if declared is not None and declared > limit:
            await _too_large(declared, limit)(scope, receive, send)
            return
        await self.app(scope, _GuardedReceive(self, scope, receive, limit), send)

    def _limit_for(self, content_type: bytes) -> int:
        media_type = content_type.decode("latin-1").lower().lstrip()
        if media_type.startswith("multipart/form-data"):
            return self.upload_bytes + FORM_OVERHEAD_BYTES
        return self.upload_bytes if media_type.startswith(RAW_IMAGE_TYPES) else self.json_bytes


class _GuardedReceive:
    """The request's receive(), counting body bytes against `limit` and timing each read."""

    def __init__(self, guard: RequestBodyGuard, scope, receive, limit: int) -> None:
        self.guard, self.scope, self.receive, self.limit = guard, scope, receive, limit
        self.received, self.complete = 0, False
        self.deadline = time.monotonic() + guard.total_seconds

    async def __call__(self):
        if self.complete:  # later calls only wait for a disconnect: no timeout applies
            return await self.receive()
        wait = min(self.guard.idle_seconds, self.deadline - time.monotonic())
        with anyio.move_on_after(max(wait, 0)) as scope:
            message = await self.receive()
        if scope.cancelled_caught:
            raise HTTPException(408, f"the request body did not arrive in time ({self.received:,} bytes "
                                f"received); send it within {self.guard.total_seconds:g} s")
        return self._checked(message)

    def _checked(self, message):
        if message["type"] == "http.disconnect":
            self._log_disconnect()
            raise HTTPException(CLIENT_CLOSED_REQUEST, "the client closed the connection mid-request")
        self.received += len(message.get("body", b""))
        if self.received > self.limit:
            raise _too_large_error(self.received, self.limit)
        self.complete = not message.get("more_body", False)
        return message

    def _log_disconnect(self) -> None:
        client = self.scope.get("client") or ("?", 0)
        log.info("client %s disconnected after %d body bytes of %s %s", client[0], self.received,
                 self.scope["method"], self.scope["path"])


def _declared_length(headers: dict[bytes, bytes]) -> int | None:
    value = headers.get(b"content-length", b"")
    return int(value) if value.isdigit() else None


def _too_large_error(size: int, limit: int) -> HTTPException:
    return HTTPException(413, f"the request body is more than {limit:,} bytes ({size:,} received or declared)")


def _too_large(size: int, limit: int):
    return problem_response(413, "Payload too large",
                            f"the request body is {size:,} bytes; the limit is {limit:,} bytes",
                            headers={"Connection": "close"})


def body_limits(settings) -> dict:
    """RequestBodyGuard's options from the settings."""
    return {"json_bytes": settings.max_json_bytes, "upload_bytes": settings.max_upload_bytes,
            "idle_seconds": settings.body_idle_timeout_seconds, "total_seconds": settings.body_timeout_seconds}
