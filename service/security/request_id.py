"""X-Request-ID: the client's own id when it sends a sane one, else a new one; kept in the
request's state (the audit log records it) and echoed on every response, so that a city's
proxies and clients can tie an answer and an audit entry together."""

from __future__ import annotations

import re
import uuid

from fastapi import Request

from service.security.headers import editing_response_headers

HEADER = "x-request-id"
ACCEPTED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestIdMiddleware:
    """Pure ASGI (no body buffering), like the latency middleware."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _sent_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        echoed = (HEADER.encode(), request_id.encode())

        def with_id(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
            return [(name, value) for name, value in headers if name.lower() != echoed[0]] + [echoed]

        await self.app(scope, receive, editing_response_headers(send, with_id))


def _sent_id(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == HEADER.encode():
            text = value.decode("latin-1")
            return text if ACCEPTED.fullmatch(text) else None
    return None


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)
