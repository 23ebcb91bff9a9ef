"""X-Request-ID: the client's own id when it sends a sane one, else a new one; kept in the
request's state (the audit log records it) and echoed on every response, so that a city's
proxies and clients can tie an answer and an audit entry together."""

from __future__ import annotations

import re
import uuid

from fastapi import Request

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

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() != HEADER.encode()]
                message = {**message, "headers": [*headers, (HEADER.encode(), request_id.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _sent_id(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == HEADER.encode():
            text = value.decode("latin-1")
            return text if ACCEPTED.fullmatch(text) else None
    return None


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)
