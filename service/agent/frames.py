"""Frames mode, for sites without the compute to analyse video: one sampled frame every N seconds
goes to the existing POST /locations/{id}/frames (as a JPEG, with a frame_id, so a retried post
is counted once). Frames wait only in memory, in a bounded buffer: when it is full the oldest
frame is dropped, and a frame that could not be delivered within `max_age` seconds is dropped
too; both are counted in the log. No frame is ever written to disk."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from service.agent.runtime import AgentConfig, Every, Stopper, open_client, wait_for_delivery
from service.agent.sender import Answer, Delivery, SenderThread, post_bytes
from service.agent.source import describe, open_source

log = logging.getLogger("happiness.agent")
JPEG_QUALITY = 90


@dataclass(frozen=True)
class QueuedFrame:
    frame_id: str
    captured_at: datetime
    jpeg: bytes
    queued_at: float


class FrameBuffer:
    """The frames waiting for delivery, oldest first, at most `capacity` of them; a Delivery
    store (see sender.Delivery). Thread-safe: the reader adds, the sender takes."""

    def __init__(self, client, url: str, capacity: int, max_age_s: float, clock=time.monotonic) -> None:
        self.client, self.url, self.capacity, self.max_age_s, self.clock = client, url, capacity, max_age_s, clock
        self._frames: deque[QueuedFrame] = deque()
        self._lock = threading.Lock()
        self.dropped_full = self.dropped_old = self.refused_count = self.counted = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def add(self, frame_id: str, captured_at: datetime, jpeg: bytes) -> None:
        with self._lock:
            if len(self._frames) >= self.capacity:
                self._frames.popleft()
                self.dropped_full += 1
            self._frames.append(QueuedFrame(frame_id, captured_at, jpeg, self.clock()))

    def due(self) -> list[QueuedFrame]:
        """The frames to send now, oldest first, after dropping those too old to deliver."""
        with self._lock:
            while self._frames and self.clock() - self._frames[0].queued_at > self.max_age_s:
                self._frames.popleft()
                self.dropped_old += 1
            return list(self._frames)

    def send(self, frame: QueuedFrame) -> Answer:
        params = {"frame_id": frame.frame_id, "captured_at": frame.captured_at.isoformat()}
        return post_bytes(self.client, self.url, frame.jpeg, params, "image/jpeg")

    def delivered(self, frame: QueuedFrame, answer: Answer) -> None:
        self._remove(frame)
        self.counted += 1

    def refused(self, frame: QueuedFrame, answer: Answer) -> None:
        self._remove(frame)
        self.refused_count += 1

    def hold(self, frame: QueuedFrame, until: float, answer: Answer) -> None:
        """Nothing to record: the frame stays first in line (and may age out meanwhile)."""

    def next_due_at(self) -> float | None:
        return time.time() if len(self) else None

    def _remove(self, frame: QueuedFrame) -> None:
        with self._lock:
            if frame in self._frames:
                self._frames.remove(frame)

    @staticmethod
    def describe(frame: QueuedFrame) -> str:
        return f"frame {frame.frame_id}"


def run_frames(config: AgentConfig, stop: Stopper) -> int:
    import cv2

    client = open_client(config)
    source = open_source(config.source, 1.0 / config.frame_interval, config.start)
    buffer = FrameBuffer(client, config.url("frames"), config.frame_buffer, config.frame_max_age)
    delivery = Delivery(lambda: buffer)
    sender = SenderThread(delivery.deliver_due)
    run_id = uuid.uuid4().hex[:12]
    log.info("posting one frame of %s every %g s to location %d (buffer: %d frames in memory)",
             describe(config.source), config.frame_interval, config.location_id, config.frame_buffer)
    sender.start()
    summary, sampled = Every(), 0
    try:
        for sample in source.samples():
            if stop.requested or sender.stopped_by is not None:
                break
            if sample is not None:
                ok, jpeg = cv2.imencode(".jpg", sample.frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                sampled += 1
                buffer.add(f"{run_id}-{sampled:08d}", sample.moment, jpeg.tobytes())
                sender.wake()
            if summary.due():
                _summarise(buffer, delivery, sampled)
        left = wait_for_delivery(lambda: len(buffer), sender, stop, config.drain_timeout)
    finally:
        source.close()
        sender.stop()
    return _finish(buffer, sender, left, sampled)


def _summarise(buffer: FrameBuffer, delivery: Delivery, sampled: int) -> None:
    stats = delivery.stats.take()
    log.info("last minute: %d frames posted, %d retries, %d refused; %d waiting in memory; dropped so far: %d "
             "(buffer full) + %d (older than --frame-max-age); %d sampled in all", stats.delivered, stats.retries,
             stats.refused, len(buffer), buffer.dropped_full, buffer.dropped_old, sampled)


def _finish(buffer: FrameBuffer, sender: SenderThread, left: int, sampled: int) -> int:
    dropped = buffer.dropped_full + buffer.dropped_old + buffer.refused_count + left
    log.info("done: %d of %d sampled frames counted by the server, %d dropped undelivered (never written anywhere)",
             buffer.counted, sampled, dropped)
    if sender.stopped_by is not None:
        log.error("delivery stopped: %s", sender.stopped_by)
        return 2
    return 0
