"""Faces followed from frame to frame, in memory only: ByteTrack (from `supervision`) associates
each frame's face boxes with the tracks so far, and for each track the agent keeps nothing but
a frame count, the sum of its class probabilities and when it was last seen: no image, crop,
box history or embedding. A track the tracker has given up on (unseen for `patience_s`) is
finished: it becomes a Person, or noise when it has fewer than `min_frames` frames.

Why ByteTrack from supervision 0.30: on the composed videos of bench/agent_trackers.py it counted
the people right from 2 analysed frames/s up, as the `trackers` package's trackers did and
norfair did not (BENCHMARKS.md, section 4), and it is the one of them that installs beside our
numpy 2 and opencv-python-headless: norfair pins numpy < 2, `trackers` (ByteTrack's new home)
pulls opencv-python, whose cv2 clashes with ours. supervision marks its ByteTrack deprecated
from 0.28 and drops it in 0.31, hence the pin."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from service.agent.decisions import Person, expression


@dataclass
class Track:
    frames: int
    probability_sum: np.ndarray
    last_seen: datetime
    last_update: int


class FaceTracker:
    """Feed it each analysed frame's detections (boxes and class scores); it answers the people
    whose tracks finished with that frame."""

    def __init__(self, classes: tuple[str, ...], fps: float, patience_s: float = 3.0, min_frames: int = 3,
                 happy_threshold: float | None = None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # import noise, and the deprecation the pin accounts for
            import supervision as sv

            self._sv = sv
            # supervision counts lost_track_buffer in frames at 30 fps: this keeps a lost face patience_s
            self._tracker = sv.ByteTrack(lost_track_buffer=round(patience_s * 30), frame_rate=fps,
                                         minimum_consecutive_frames=1)
        self.classes, self.min_frames, self.happy_threshold = classes, min_frames, happy_threshold
        self.updates = 0
        self.live: dict[int, Track] = {}
        self.noise = 0  # tracks dropped for being shorter than min_frames

    def update(self, moment: datetime, detections: list) -> list[Person]:
        """Associate one frame's detections (service.vision.pipeline.Detection) and answer the
        people whose tracks have now ended."""
        self.updates += 1
        for detection, track_id in zip(detections, self._track_ids(detections)):
            if track_id is not None:
                self._extend(track_id, detection, moment)
        lost_after = self._tracker.max_time_lost
        return self._finish([i for i, track in self.live.items() if self.updates - track.last_update > lost_after])

    def finish_all(self) -> list[Person]:
        """End every live track (the source ended or the agent stops)."""
        return self._finish(list(self.live))

    @property
    def oldest_live(self) -> datetime | None:
        """The earliest last sighting of a live track: no bucket after it can close yet."""
        return min((track.last_seen for track in self.live.values()), default=None)

    def _track_ids(self, detections: list) -> list[int | None]:
        """ByteTrack's id for each detection; None for one it holds back (a new face is given an
        id at its second sighting) or drops."""
        ids: list[int | None] = [None] * len(detections)
        if not detections:
            self._tracker.update_with_detections(self._sv.Detections.empty())
            return ids
        boxes = np.array([[d.box.left, d.box.top, d.box.right, d.box.bottom] for d in detections], np.float32)
        tracked = self._tracker.update_with_detections(self._sv.Detections(
            xyxy=boxes, confidence=np.ones(len(boxes), np.float32),  # HOG gives no score: all alike
            class_id=np.zeros(len(boxes), int), data={"row": np.arange(len(boxes))}))
        for row, track_id in zip(tracked.data.get("row", ()), tracked.tracker_id):  # no data: no track yet
            ids[int(row)] = int(track_id)
        return ids

    def _extend(self, track_id: int, detection, moment: datetime) -> None:
        scores = np.array([detection.scores[c] for c in self.classes], np.float64)
        track = self.live.get(track_id)
        if track is None:
            self.live[track_id] = Track(1, scores, moment, self.updates)
            return
        track.frames += 1
        track.probability_sum += scores
        track.last_seen, track.last_update = moment, self.updates

    def _finish(self, track_ids: list[int]) -> list[Person]:
        people = []
        for track_id in track_ids:
            track = self.live.pop(track_id)
            if track.frames < self.min_frames:
                self.noise += 1
                continue
            people.append(Person(track.last_seen, track.frames, expression(track.probability_sum, self.classes, track.frames,
                                                                          self.happy_threshold)))
        return people
