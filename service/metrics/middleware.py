"""Request latency as a pure ASGI middleware (no body buffering). Requests are labelled with
their route template, e.g. /locations/{location_id}/frames, never the raw path, so that the
number of label values stays bounded whatever clients send. The app's ServiceMetrics is given at
construction: the middleware stack is built before the app's lifespan runs."""

from __future__ import annotations

import time

from service.metrics.collectors import ServiceMetrics

UNMATCHED = "unmatched"


class RequestLatencyMiddleware:
    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}  # an exception escaping the app is answered 500

        async def send_with_status(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.observe_request(scope["method"], route_of(scope), status["code"], time.perf_counter() - started)


def route_of(scope) -> str:
    """The matched route's template; mounts (the dashboard's files) count as their prefix."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if path else UNMATCHED
