"""What both agent modes share: the agent's settings, the HTTP client, the server's bucket width,
stopping on SIGTERM/SIGINT, the once-a-minute summary and waiting for delivery at the end."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from service.agent.queue import MAX_PENDING_BATCHES
from service.agent.sender import Backoff

log = logging.getLogger("happiness.agent")

CLOCK_SKEW_WARNING_S = 60
SUMMARY_EVERY_S = 60.0
STOP_GRACE_S = 10.0  # on SIGTERM/SIGINT: this long to deliver what is queued, then exit (the queue keeps the rest)


@dataclass(frozen=True)
class AgentConfig:
    source: str
    server: str
    location_id: int
    key: str
    mode: str = "people"
    fps: float = 5.0
    min_track_frames: int = 3
    track_patience: float = 3.0
    queue: Path = Path("data/agent-queue.db")
    queue_max_batches: int = MAX_PENDING_BATCHES
    start: datetime | None = None
    bucket_minutes: int | None = None
    frame_interval: float = 10.0
    frame_buffer: int = 30
    frame_max_age: float = 300.0
    min_face_px: int | None = None
    drain_timeout: float = 0.0  # 0: wait until everything is delivered

    @property
    def target(self) -> str:
        """The server and location a queued batch belongs to."""
        return f"{self.server.rstrip('/')}#location={self.location_id}"

    def url(self, path: str) -> str:
        return f"/locations/{self.location_id}/{path}"


def open_client(config: AgentConfig):
    import httpx

    return httpx.Client(base_url=config.server.rstrip("/"), timeout=httpx.Timeout(30.0, connect=10.0),
                        headers={"Authorization": f"Bearer {config.key}"})


def server_bucket_minutes(client, stop: Stopper, backoff: Backoff = Backoff(cap_s=30.0)) -> int | None:
    """The width of the server's buckets from GET /health, asked until the server answers (None
    when stopped meanwhile); warns when this machine's clock is far from the server's."""
    import httpx

    attempts = 0
    while not stop.requested:
        try:
            response = client.get("/health")
            if response.status_code == 200:
                _warn_on_clock_skew(response.headers.get("date"))
                return _bucket_minutes_of(response.json())
            reason = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            reason = f"{error.__class__.__name__}: {error}"
        wait = backoff.delay(attempts)
        attempts += 1
        log.warning("server not answering at %s/health (%s); asking again in %.0f s", client.base_url, reason, wait)
        stop.wait(wait)
    return None


def _bucket_minutes_of(health: dict) -> int:
    minutes = health.get("bucket_minutes")
    if not isinstance(minutes, int) or minutes <= 0:
        raise SystemExit("the server's /health gives no bucket_minutes (an older server?): pass --bucket-minutes")
    return minutes


def _warn_on_clock_skew(date_header: str | None) -> None:
    if not date_header:
        return
    skew = time.time() - parsedate_to_datetime(date_header).timestamp()
    if abs(skew) > CLOCK_SKEW_WARNING_S:
        log.warning("this machine's clock is %+.0f s off the server's: observations may be refused as "
                    "future or counted in the wrong bucket; synchronise it (NTP)", skew)


class Stopper:
    """Set by SIGTERM or SIGINT (Ctrl-C): the agent finishes its tracks, queues what it counted
    and exits."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, *_args) -> None:
        if not self._event.is_set():
            log.info("stopping: finishing tracks and queueing what was counted")
        self._event.set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request)
            signal.signal(signal.SIGINT, self.request)


class Every:
    """True once per `seconds` of the clock (for the summary lines)."""

    def __init__(self, seconds: float = SUMMARY_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self.last = clock()

    def due(self) -> bool:
        if self.clock() - self.last < self.seconds:
            return False
        self.last = self.clock()
        return True


def wait_for_delivery(waiting: Callable[[], int], sender, stop: Stopper, timeout: float) -> int:
    """Wait until nothing waits (answers 0), the sender stopped for good, or `timeout` seconds
    passed (0: no limit; after a stop request: STOP_GRACE_S). Answers what still waits."""
    limit = STOP_GRACE_S if stop.requested else timeout
    deadline = time.monotonic() + limit if limit > 0 else None
    announced = 0.0
    while (left := waiting()) and sender.is_alive():
        if deadline is not None and time.monotonic() >= deadline:
            break
        if time.monotonic() - announced >= SUMMARY_EVERY_S:
            log.info("waiting for the server to confirm %d item(s)", left)
            announced = time.monotonic()
        sender.wake()
        time.sleep(0.2)
    return waiting()


def utc_now() -> datetime:
    return datetime.now(UTC)
