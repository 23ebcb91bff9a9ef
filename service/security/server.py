"""How `happiness serve` runs uvicorn, with the limits a server facing the network needs.

uvicorn's httptools protocol (the fast one) sets no limit on a request's head and no deadline
for it: a client could send megabytes of headers, or hold a connection open by sending them a
byte at a time (slowloris), or connect and send nothing. GuardedHttpToolsProtocol adds both:
the request line and headers may total `max_header_bytes` (else 400 and the connection is
closed) and must arrive within `header_timeout_seconds` of the connection opening or the
request's first byte (else the connection is closed). Bodies have their own limits and read
timeouts (service.security.bodies); idle keep-alive connections close after
`keep_alive_seconds` (uvicorn's timeout_keep_alive)."""

from __future__ import annotations

import asyncio
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import Settings


@cache
def _limits() -> tuple[int, float]:
    settings = Settings()
    return settings.max_header_bytes, settings.header_timeout_seconds


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._head_bytes, self._head_timer = 0, None
        self._max_head_bytes, self._head_seconds = _limits()
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._max_head_bytes:
            # raised inside the parser's callback: uvicorn answers 400 and closes the connection
            raise ValueError(f"request head over {self._max_head_bytes} bytes")

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self._head_seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict:
    """uvicorn.run's keyword arguments for the protocol, its limits and its logging."""
    return {"http": GuardedHttpToolsProtocol, "timeout_keep_alive": settings.keep_alive_seconds,
            "h11_max_incomplete_event_size": settings.max_header_bytes,
            "limit_concurrency": settings.max_connections, "log_level": settings.log_level,
            # uvicorn's supervisor pings each worker from a thread and kills one that stays silent
            # this long; under load a worker analysing large frames can hold the GIL past the
            # default 5 s, and a kill drops every frame in flight (the soak lost frames that way:
            # BENCHMARKS.md, section 7)
            "timeout_worker_healthcheck": settings.worker_healthcheck_seconds,
            # SIGTERM ends the server within this, however many connections stay open
            "timeout_graceful_shutdown": settings.graceful_shutdown_seconds}
