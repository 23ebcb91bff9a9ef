"""A week without the server: the agent's durable queue keeps what it counted through two
restarts, sends the backlog when the link returns, and the server counts every person once;
batches whose confirmation was lost are answered as duplicates. The agent's own queue, sender
and HTTP client against a real server (uvicorn, SQLite and PostgreSQL) behind a link the test
cuts; the agent's clock is injected so that a week of backoff passes at once."""

import logging
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx

from service.agent.counting import _drain, report_refusals
from service.agent.runtime import AgentConfig, Stopper
from service.agent.queue import DurableQueue
from service.agent.sender import Backoff, Delivery, QueuedBatches, SenderThread
from support import ADMIN, LiveServer, TcpProxy, add_camera, add_location, bearer

OUTAGE_HOURS = 7 * 24
RESTARTS_AT_HOURS = (48, 120)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Agent:
    """What `happiness agent` runs to deliver: its queue file, the sender's Delivery and its
    HTTP client. A restart is a new Agent on the same file, as a new process would be."""

    def __init__(self, queue_path, url: str, location_id: int, key: str, clock: Clock) -> None:
        self.client = httpx.Client(base_url=url, headers=bearer(key), timeout=10)
        self.queue = DurableQueue(queue_path, f"{url}#location={location_id}", clock)
        self.delivery = Delivery(lambda: QueuedBatches(self.queue, self.client, f"/locations/{location_id}/observations"),
                                 Backoff(base_s=1, cap_s=300), clock)
        self.clock = clock

    def send_due(self) -> float | None:
        return self.delivery.deliver_due()

    def drain(self, rounds: int = 500) -> None:
        """Deliver until nothing waits, moving the clock to each next attempt."""
        for _ in range(rounds):
            next_at = self.send_due()
            if next_at is None:
                return
            self.clock.now = max(self.clock.now, next_at)
        raise AssertionError(f"{self.queue.counts().pending} batches still wait")

    def close(self) -> None:
        self.queue.close()
        self.client.close()


def hourly_batch(hour_start: datetime, people: int, happy: int) -> dict:
    observation = {"start": hour_start.isoformat(), "end": (hour_start + timedelta(minutes=15)).isoformat(),
                   "people": people, "happy": happy, "emotions": {"happy": happy, "neutral": people - happy},
                   "sightings": 3 * people, "frames": 900}
    return {"batch_id": f"agent-{hour_start:%Y%m%dT%H}", "observations": [observation]}


def test_a_week_long_outage_is_counted_once(database_url, tmp_path, pipeline):
    from service.main import create_app
    from support import make_settings

    rng = random.Random(27)
    began = (datetime.now(UTC) - timedelta(hours=OUTAGE_HOURS + 1)).replace(minute=0, second=0, microsecond=0)
    # the camera rate limit runs on the real clock, the agent on the simulated one: lifted here
    settings = make_settings(database_url, tmp_path, camera_rate_per_minute=100_000, camera_burst=100_000)
    with LiveServer(create_app(settings, pipeline=pipeline)) as server:
        admin = httpx.Client(base_url=server.url, headers=ADMIN)
        location = add_location(admin, "Backlog square")
        key = add_camera(admin, location["id"])["api_key"]
        link = TcpProxy("127.0.0.1", server.port)  # not started: the agent's connections are refused
        url, clock = f"http://127.0.0.1:{link.port}", Clock(began.timestamp())
        agent, people, happy = Agent(tmp_path / "queue.db", url, location["id"], key, clock), 0, 0
        for hour in range(OUTAGE_HOURS):
            if hour in RESTARTS_AT_HOURS:
                agent.close()
                agent = Agent(tmp_path / "queue.db", url, location["id"], key, clock)
            clock.now = (began + timedelta(hours=hour + 1)).timestamp()
            counted = rng.randint(0, 4)
            smiling = rng.randint(0, counted)
            batch = hourly_batch(began + timedelta(hours=hour), counted, smiling)
            agent.queue.add(batch["batch_id"], batch)
            people, happy = people + counted, happy + smiling
            agent.send_due()  # refused connections: held, nothing lost
        assert agent.queue.counts().pending == OUTAGE_HOURS and agent.delivery.stats.delivered == 0

        link.start()
        agent.drain()
        assert agent.queue.counts().confirmed == OUTAGE_HOURS and agent.delivery.stats.duplicates == 0

        lose_confirmations(tmp_path / "queue.db", 5)  # killed after the server counted, before confirming
        agent.close()
        agent = Agent(tmp_path / "queue.db", url, location["id"], key, clock)
        agent.drain()
        assert agent.delivery.stats.duplicates == 5 and agent.delivery.stats.delivered == 5
        agent.close()
        link.stop()

        index = admin.get(f"/locations/{location['id']}/happiness-index",
                          params={"from": began.isoformat(), "granularity": "day"}).json()["overall"]
    assert people > 100
    assert (index["faces"], index["happy"]) == (people, happy)


def lose_confirmations(queue_path, how_many: int) -> None:
    """What a kill between the server's answer and the local confirmation leaves in the file."""
    with sqlite3.connect(queue_path) as connection:
        connection.execute("UPDATE batches SET state = 'pending', done_at = NULL WHERE batch_id IN (SELECT batch_id "
                           "FROM batches ORDER BY batch_id LIMIT ?)", (how_many,))


def test_a_batch_past_the_retention_is_refused_and_reported_loudly(client, tmp_path, caplog):
    location = add_location(client, "Late square")
    key = add_camera(client, location["id"])["api_key"]
    clock = Clock(datetime.now(UTC).timestamp())
    queue = DurableQueue(tmp_path / "queue.db", "t", clock)
    client.headers.update(bearer(key))
    delivery = Delivery(lambda: QueuedBatches(queue, client, f"/locations/{location['id']}/observations"),
                        Backoff(), clock)
    old = (datetime.now(UTC) - timedelta(days=400)).replace(minute=0, second=0, microsecond=0)
    recent = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    queue.add("too-old", hourly_batch(old, 7, 2) | {"batch_id": "too-old"})
    queue.add("fine", hourly_batch(recent, 3, 1) | {"batch_id": "fine"})
    with caplog.at_level(logging.INFO, logger="happiness.agent"):
        delivery.deliver_due()
        assert report_refusals(queue, since=clock.now - 1) == 1
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert any("too-old (7 people) refused by the server for good (HTTP 422)" in line for line in errors), errors
    assert any("refused 1 batch(es) for good in this run, holding 7 people" in line for line in errors), errors
    assert any("365-day retention" in line for line in errors), errors
    assert (queue.counts().confirmed, queue.counts().rejected) == (1, 1)
    # the exit summary: what `happiness agent` ends with once nothing waits
    config = AgentConfig(source="x.mp4", server="http://server", location_id=location["id"], key=key,
                         queue=tmp_path / "queue.db")
    assert _drain(queue, delivery, SenderThread(lambda: None), Stopper(), config, 0, clock.now - 1) == 4
