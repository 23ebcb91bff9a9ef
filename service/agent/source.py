"""Video in, sampled frames out, read with OpenCV: a file, an rtsp:// or http(s):// stream
(e.g. MJPEG) or a camera device index.

- A file is read in order and sampled by its own timeline (every frame whose time reaches the
  next sample time), so a file gives the same frames however fast the machine is. Its frames are
  stamped as a recording that ended when the agent started (or began at --start).
- A stream or device is live: a reader thread takes every frame as it arrives and keeps only the
  newest, and the agent takes that one `fps` times a second, stamped with the clock. When the
  stream fails, the reader reconnects with a growing pause (1 s doubling to 30 s).

Frames exist only in memory; none is ever written anywhere."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

log = logging.getLogger("happiness.agent")

RECONNECT_FIRST_S, RECONNECT_MAX_S = 1.0, 30.0


class SourceError(RuntimeError):
    """The source cannot be opened (a missing file, a file OpenCV cannot read)."""


@dataclass(frozen=True)
class Sample:
    moment: datetime  # when the frame was taken (UTC)
    frame: np.ndarray  # BGR, as OpenCV reads it


def describe(spec: str) -> str:
    """`spec` without credentials, for logs (rtsp://user:password@host/... is common)."""
    if "://" in spec and "@" in spec.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = spec.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return spec


def is_live(spec: str) -> bool:
    return spec.isdigit() or "://" in spec


def check_source(spec: str) -> None:
    """Refuse a missing video file at once, before the model loads or the server is asked."""
    if not is_live(spec) and not Path(spec).is_file():
        raise SourceError(f"no such video file: {spec}")


STREAM_TIMEOUT_MS = 10_000  # a stalled stream is given up (and reconnected) after this long


def _capture(spec: str):
    import cv2

    if spec.isdigit():
        return cv2.VideoCapture(int(spec))
    if "://" in spec:
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
        return cv2.VideoCapture(spec, cv2.CAP_FFMPEG, timeouts)
    return cv2.VideoCapture(spec, cv2.CAP_FFMPEG)


class FileSource:
    """A video file sampled at `fps` by its own timeline."""

    def __init__(self, path: str, fps: float, start: datetime | None = None, clock=time.time) -> None:
        import cv2

        check_source(path)
        self.capture = _capture(path)
        if not self.capture.isOpened():
            raise SourceError(f"OpenCV cannot read {path} (not a video, or a codec its FFmpeg lacks)")
        self.file_fps = self.capture.get(cv2.CAP_PROP_FPS) or 25.0
        self.total_frames = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.duration = timedelta(seconds=max(0, self.total_frames) / self.file_fps)
        self.start = start or datetime.fromtimestamp(clock(), UTC) - self.duration
        self.interval = 1.0 / fps
        self.position = 0  # frames read so far

    def samples(self) -> Iterator[Sample]:
        next_at = 0.0
        while True:
            ok = self.capture.grab()
            if not ok:
                return
            offset = self.position / self.file_fps
            self.position += 1
            if offset + 1e-9 < next_at:
                continue  # grab() only: the frame is never converted
            ok, frame = self.capture.retrieve()
            if ok:
                next_at = max(next_at + self.interval, offset)
                yield Sample(self.start + timedelta(seconds=offset), frame)

    @property
    def progress(self) -> float | None:
        return self.position / self.total_frames if self.total_frames > 0 else None

    def close(self) -> None:
        self.capture.release()


class LiveSource:
    """A stream or device: the newest frame, `fps` times a second, reconnecting when it fails.
    `samples()` yields None at a sample time without a new frame (the stream is down), so the
    agent's clock-driven work (closing buckets, summaries) goes on meanwhile."""

    def __init__(self, spec: str, fps: float, clock=time.time) -> None:
        self.spec, self.interval, self.clock = spec, 1.0 / fps, clock
        self._latest: tuple[float, np.ndarray] | None = None
        self._condition = threading.Condition()
        self._stopped = threading.Event()
        self.reconnects = 0
        self._reader = threading.Thread(target=self._read_forever, name="video-reader", daemon=True)
        self._reader.start()

    def samples(self) -> Iterator[Sample | None]:
        next_at = self.clock()
        taken_at = None
        while not self._stopped.is_set():
            time.sleep(max(0.0, next_at - self.clock()))
            next_at = max(next_at + self.interval, self.clock() - self.interval)  # never catch up in a burst
            newest = self._newest_after(taken_at)
            if newest is None:
                yield None
                continue
            taken_at = newest[0]
            yield Sample(datetime.fromtimestamp(newest[0], UTC), newest[1])

    def _newest_after(self, taken_at: float | None) -> tuple[float, np.ndarray] | None:
        """The newest frame if it is newer than the last one taken; waits a sample interval for it."""
        with self._condition:
            self._condition.wait_for(lambda: self._stopped.is_set() or (
                self._latest is not None and self._latest[0] != taken_at), timeout=self.interval)
            latest = self._latest
        return latest if latest is not None and latest[0] != taken_at else None

    def _read_forever(self) -> None:
        pause = RECONNECT_FIRST_S
        while not self._stopped.is_set():
            capture = _capture(self.spec)
            if capture.isOpened():
                log.info("reading %s", describe(self.spec))
                if self._read_until_failure(capture):
                    pause = RECONNECT_FIRST_S
            capture.release()
            if self._stopped.is_set():
                return
            self.reconnects += 1
            log.warning("%s: no frames; reconnecting in %.0f s", describe(self.spec), pause)
            self._stopped.wait(pause)
            pause = min(RECONNECT_MAX_S, pause * 2)

    def _read_until_failure(self, capture) -> bool:
        """Read frames until the stream fails or the source stops; True when any frame came."""
        any_frame = False
        while not self._stopped.is_set():
            ok, frame = capture.read()
            if not ok:
                return any_frame
            any_frame = True
            with self._condition:
                self._latest = (self.clock(), frame)
                self._condition.notify_all()
        return any_frame

    @property
    def progress(self) -> float | None:
        return None

    def close(self) -> None:
        self._stopped.set()
        with self._condition:
            self._condition.notify_all()
        self._reader.join(timeout=10)


def open_source(spec: str, fps: float, start: datetime | None = None):
    """A FileSource for a path, a LiveSource for a URL or a device index."""
    if is_live(spec):
        if start is not None:
            raise SourceError("--start applies to video files only: a stream is stamped with the clock")
        return LiveSource(spec, fps)
    return FileSource(spec, fps, start)
