"""Security headers on every response. A response that sets its own (the dashboard's files and
the API docs pages set their own Content-Security-Policy and Cache-Control) keeps it; every
other answer gets the API's: nothing may be sniffed into another type, framed, cached or
referred on, and a browser that opens an API answer runs nothing from it."""

from __future__ import annotations

API_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    # counts, tokens' answers, camera keys and CSV exports: no shared or browser cache keeps them
    (b"cache-control", b"no-store"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        await self.app(scope, receive, editing_response_headers(send, with_defaults))


def editing_response_headers(send, edit):
    """`send` with the response's headers passed through `edit` (a list of (name, value) byte
    pairs in, the headers to send out): the one way our pure ASGI middlewares change headers."""

    async def send_edited(message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": edit(list(message.get("headers", [])))}
        await send(message)

    return send_edited


def with_defaults(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in API_HEADERS if name not in present]
