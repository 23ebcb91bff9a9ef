"""Failed-authentication throttling per client address: after `limit` failures within a
minute, a client's credentials that would need checking are refused with 429 and Retry-After
until its minute is over. Credentials this process knows to be good (the admin and viewer
tokens, camera keys it checked in the last few seconds) still pass; a camera behind the same
address as a guesser is refused too once its key has left the cache, until the minute ends. Memory is bounded: at most `max_clients` addresses are remembered,
the least recently failing dropped first. Each worker process counts on its own."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000


class FailedAuthThrottle:
    def __init__(self, limit: int, max_clients: int = MAX_CLIENTS, clock=time.monotonic) -> None:
        self.limit, self.max_clients, self.clock = limit, max_clients, clock
        self._windows: OrderedDict[str, list[float]] = OrderedDict()  # client -> [window start, failures]
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when `client` may try a credential now, else whole seconds until it may."""
        if self.limit <= 0:
            return 0
        with self._lock:
            window = self._current(client)
            if window is None or window[1] < self.limit:
                return 0
            return max(1, math.ceil(window[0] + WINDOW_SECONDS - self.clock()))

    def record_failure(self, client: str) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            window = self._current(client)
            if window is None:
                window = self._windows[client] = [self.clock(), 0]
            window[1] += 1
            self._windows.move_to_end(client)
            while len(self._windows) > self.max_clients:
                self._windows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._windows)

    def _current(self, client: str) -> list[float] | None:
        window = self._windows.get(client)
        if window is not None and self.clock() - window[0] >= WINDOW_SECONDS:
            del self._windows[client]
            return None
        return window
