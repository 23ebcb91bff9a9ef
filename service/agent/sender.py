"""Delivery to the server with retries, shared by both modes: observation batches from the durable
queue, and (frames mode) frames from a bounded in-memory buffer.

Each answer is judged once (`judge`): 2xx delivered; 408, 429, 5xx and network errors are tried
again after an exponential backoff with full jitter, or after the server's Retry-After when it
sends one; 401, 403 and 404 stop the agent (a wrong key, URL or location: retrying cannot help,
and nothing is lost: the queue keeps the batches); any other 4xx refuses that one item for good
(it would be refused again), which is logged and counted."""

from __future__ import annotations

import email.utils
import enum
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.agent.queue import people_of

log = logging.getLogger("happiness.agent")

FATAL_STATUSES = frozenset({401, 403, 404})
RETRY_STATUSES = frozenset({408, 425, 429})


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"
    FATAL = "fatal"


class DeliveryStopped(RuntimeError):
    """The server refuses this agent (key, URL or location): the operator must act."""


@dataclass(frozen=True)
class Answer:
    """What one attempt got: an HTTP status (None when no answer came) and its text."""

    status: int | None
    detail: str
    retry_after: float | None = None


def judge(answer: Answer) -> Verdict:
    status = answer.status
    if status is None or status >= 500 or status in RETRY_STATUSES:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.DELIVERED
    return Verdict.FATAL if status in FATAL_STATUSES else Verdict.REFUSED


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """A Retry-After header in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the n-th retry waits a random time in
    [0, min(cap, base * 2**n)], so agents that lost the server together do not return together;
    a server's Retry-After is honoured as a floor."""

    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, attempts: int, retry_after: float | None = None, rng: random.Random = random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempts, 32))
        wait = rng.uniform(0, ceiling)
        return max(wait, retry_after) if retry_after is not None else wait


def post_json(client, url: str, body: dict) -> Answer:
    return _attempt(lambda: client.post(url, json=body))


def post_bytes(client, url: str, content: bytes, params: dict, content_type: str) -> Answer:
    return _attempt(lambda: client.post(url, content=content, params=params,
                                        headers={"Content-Type": content_type}))


def _attempt(send: Callable) -> Answer:
    import httpx

    try:
        response = send()
    except httpx.HTTPError as error:
        return Answer(None, f"{error.__class__.__name__}: {error}"[:300])
    return Answer(response.status_code, response.text[:300], retry_after_seconds(response.headers.get("retry-after")))


@dataclass
class DeliveryStats:
    """What the sender did since the last summary (and in all)."""

    delivered: int = 0
    duplicates: int = 0
    retries: int = 0
    refused: int = 0

    def take(self) -> DeliveryStats:
        """The counts so far, and start again from zero."""
        taken = DeliveryStats(self.delivered, self.duplicates, self.retries, self.refused)
        self.delivered = self.duplicates = self.retries = self.refused = 0
        return taken


class SenderThread(threading.Thread):
    """Runs `deliver_due()` (which answers when to try next, None when nothing waits) until
    stopped: it sleeps until then or until `wake()`. A DeliveryStopped ends the thread and is
    kept in `.stopped_by` for the main loop to report."""

    def __init__(self, deliver_due: Callable[[], float | None], name: str = "sender") -> None:
        super().__init__(name=name, daemon=True)
        self.deliver_due = deliver_due
        self.stopped_by: DeliveryStopped | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                next_at = self.deliver_due()
            except DeliveryStopped as error:
                self.stopped_by = error
                return
            except Exception:  # a bug must not silently end delivery: log it and try again later
                log.exception("delivery failed unexpectedly; trying again in 30 s")
                next_at = time.time() + 30
            wait = 3600.0 if next_at is None else max(0.0, next_at - time.time())
            self._wake.wait(timeout=wait)
            self._wake.clear()


def log_verdict(verdict: Verdict, what: str, answer: Answer, wait: float | None = None) -> None:
    if verdict is Verdict.RETRY:
        reason = f"HTTP {answer.status}" if answer.status else answer.detail
        log.warning("%s not delivered (%s); next try in %.1f s", what, reason, wait or 0.0)
    elif verdict is Verdict.REFUSED:
        log.error("%s refused by the server for good (HTTP %s): %s", what, answer.status, answer.detail)


def stop_for(answer: Answer) -> DeliveryStopped:
    hints = {401: "the camera key is unknown or revoked (--key)", 403: "the key belongs to another location (--location)",
             404: "no such location or endpoint (--server, --location)"}
    return DeliveryStopped(f"the server answered HTTP {answer.status}: {hints.get(answer.status, '')}; "
                           f"{answer.detail}")


class Delivery:
    """Sends a store's due items, oldest first, judging each answer. The backoff is the
    server's, not an item's: after a failed attempt nothing is sent until the wait is over, so
    an outage costs one attempt per wait, not one per waiting item.

    A store has `due()` (items to send now), `send(item) -> Answer`, `delivered(item, answer)`,
    `refused(item, answer)`, `hold(item, until, answer)` and `next_due_at()`."""

    def __init__(self, open_store: Callable, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.time) -> None:
        self.open_store, self.backoff, self.clock = open_store, backoff, clock
        self.stats = DeliveryStats()
        self.failures = 0
        self.hold_until = 0.0
        self._store = None

    def deliver_due(self) -> float | None:
        """Send what is due; answers when to call again (None: nothing waits)."""
        store = self._store = self._store or self.open_store()  # opened in the thread that uses it
        if self.clock() < self.hold_until:
            return self.hold_until
        for item in store.due():
            answer = store.send(item)
            verdict = judge(answer)
            if verdict is Verdict.RETRY:
                return self._hold(store, item, answer)
            self.failures = 0
            self._settle(store, item, verdict, answer)
        return store.next_due_at()

    def _hold(self, store, item, answer: Answer) -> float:
        wait = self.backoff.delay(self.failures, answer.retry_after)
        self.failures += 1
        self.stats.retries += 1
        self.hold_until = self.clock() + wait
        store.hold(item, self.hold_until, answer)
        log_verdict(Verdict.RETRY, store.describe(item), answer, wait)
        return self.hold_until

    def _settle(self, store, item, verdict: Verdict, answer: Answer) -> None:
        if verdict is Verdict.FATAL:
            raise stop_for(answer)
        if verdict is Verdict.REFUSED:
            store.refused(item, answer)
            self.stats.refused += 1
            log_verdict(verdict, store.describe(item), answer)
            return
        store.delivered(item, answer)
        self.stats.delivered += 1
        self.stats.duplicates += answer.status == 200  # counted by the server before: a lost confirmation


class QueuedBatches:
    """The durable queue as a Delivery store: batches go to POST /locations/{id}/observations."""

    def __init__(self, queue, client, url: str) -> None:
        self.queue, self.client, self.url = queue, client, url

    def due(self) -> list:
        return self.queue.due()

    def send(self, batch) -> Answer:
        return post_json(self.client, self.url, batch.body)

    def delivered(self, batch, answer: Answer) -> None:
        self.queue.confirm(batch.batch_id)

    def refused(self, batch, answer: Answer) -> None:
        self.queue.reject(batch.batch_id, f"HTTP {answer.status}: {answer.detail}")

    def hold(self, batch, until: float, answer: Answer) -> None:
        self.queue.retry_at(batch.batch_id, until, f"HTTP {answer.status}: {answer.detail}")

    def next_due_at(self) -> float | None:
        return self.queue.next_due_at()

    @staticmethod
    def describe(batch) -> str:
        return f"batch {batch.batch_id} ({people_of(batch.body)} people)"
