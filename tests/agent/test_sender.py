"""Delivery from the durable queue: a real httpx client against a scripted transport (the server
side is tested live in test_agent_video.py), and a clock the test moves, so that waits are
checked as values, never timed."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from service.agent.queue import DurableQueue
from service.agent.sender import (Answer, Backoff, Delivery, DeliveryStopped, QueuedBatches, Verdict, judge,
                                  retry_after_seconds)

URL = "/locations/1/observations"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class ScriptedServer:
    """Answers each request with the next (status, headers) of its script; records the batch ids."""

    def __init__(self, *script: tuple[int, dict]) -> None:
        self.script = list(script)
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        import json

        self.received.append(json.loads(request.content)["batch_id"])
        status, headers = self.script.pop(0) if self.script else (201, {})
        return httpx.Response(status, headers=headers, json={"detail": "scripted"})


def delivery_for(tmp_path, server: ScriptedServer, clock: Clock, *batch_ids: str) -> tuple[Delivery, DurableQueue]:
    queue = DurableQueue(tmp_path / "q.db", "t", clock)
    for batch_id in batch_ids:
        queue.add(batch_id, {"batch_id": batch_id, "observations": []})
    client = httpx.Client(base_url="http://server", transport=httpx.MockTransport(server))
    return Delivery(lambda: QueuedBatches(queue, client, URL), Backoff(base_s=1, cap_s=60), clock), queue


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_and_nothing_is_sent_meanwhile(tmp_path, status):
    clock, server = Clock(), ScriptedServer((status, {"Retry-After": "7"}))
    delivery, queue = delivery_for(tmp_path, server, clock, "b0", "b1")
    next_at = delivery.deliver_due()
    assert server.received == ["b0"] and next_at >= clock.now + 7
    clock.now = next_at - 0.01
    assert delivery.deliver_due() == next_at and server.received == ["b0"]  # still waiting: nothing sent
    clock.now = next_at
    assert delivery.deliver_due() is None
    assert server.received == ["b0", "b0", "b1"] and queue.counts().confirmed == 2


def test_an_http_date_retry_after_counts_too():
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert 100 < retry_after_seconds(format_datetime(later, usegmt=True)) <= 120
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_unreachable_server_backs_off_exponentially_with_jitter(tmp_path):
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    clock = Clock()
    queue = DurableQueue(tmp_path / "q.db", "t", clock)
    queue.add("b0", {"batch_id": "b0", "observations": []})
    client = httpx.Client(base_url="http://server", transport=httpx.MockTransport(refuse))
    delivery = Delivery(lambda: QueuedBatches(queue, client, URL), Backoff(base_s=1, cap_s=60), clock)
    waits = []
    for _ in range(8):
        next_at = delivery.deliver_due()
        waits.append(next_at - clock.now)
        clock.now = next_at
    assert all(0 <= wait <= min(60, 2 ** n) for n, wait in enumerate(waits))
    assert queue.counts().pending == 1 and delivery.stats.retries == 8


def test_backoff_bounds_and_jitter():
    backoff, rng = Backoff(base_s=1, cap_s=300), random.Random(1)
    draws = [backoff.delay(10, rng=rng) for _ in range(200)]
    assert max(draws) <= 300 and min(draws) < 100  # full jitter: spread over [0, cap]
    assert all(backoff.delay(0, retry_after=30, rng=rng) >= 30 for _ in range(20))


def test_a_refused_batch_is_kept_aside_and_the_next_one_goes(tmp_path):
    clock, server = Clock(), ScriptedServer((422, {}), (201, {}))
    delivery, queue = delivery_for(tmp_path, server, clock, "bad", "good")
    assert delivery.deliver_due() is None
    counts = queue.counts()
    assert (counts.pending, counts.confirmed, counts.rejected) == (0, 1, 1)
    assert delivery.stats.refused == 1


def test_a_duplicate_answer_confirms_the_batch(tmp_path):
    clock, server = Clock(), ScriptedServer((200, {}))
    delivery, queue = delivery_for(tmp_path, server, clock, "b0")
    delivery.deliver_due()
    assert queue.counts().confirmed == 1 and delivery.stats.duplicates == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_key_stops_delivery_and_keeps_the_batches(tmp_path, status):
    clock, server = Clock(), ScriptedServer((status, {}))
    delivery, queue = delivery_for(tmp_path, server, clock, "b0")
    with pytest.raises(DeliveryStopped, match=f"HTTP {status}"):
        delivery.deliver_due()
    assert queue.counts().pending == 1


def test_verdicts():
    assert [judge(Answer(status, "")) for status in (201, 200, 408, 429, 500, 503, None, 400, 413, 422, 401)] == [
        Verdict.DELIVERED, Verdict.DELIVERED, Verdict.RETRY, Verdict.RETRY, Verdict.RETRY, Verdict.RETRY,
        Verdict.RETRY, Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED, Verdict.FATAL]
