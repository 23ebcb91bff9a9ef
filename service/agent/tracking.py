"""Faces followed from frame to frame, in memory only: ByteTrack (from `supervision`) associates
each frame's face boxes with the tracks so far, and for each track the agent keeps nothing but
frame counts (the frames, the readable ones, and of those the ones decided happy), the sum of its
class probabilities and when it was last seen: no image, crop, box history or embedding. A track
the tracker has given up on (unseen for `patience_s`) is finished: it becomes a Person (decided
by decisions.expression), or noise when it has fewer than `min_frames` frames.

Faces too small to read (a frame's unread boxes) are tracked like the others, so a person far
away is still followed and counted as seen; only the readable frames add probabilities, and a
person with none is an unread Person (label None): counted as seen, never as read.

Why ByteTrack from supervision 0.30: on the composed videos of bench/agent_trackers.py it counted
the people right down to low analysed frame rates, as the `trackers` package's trackers did
and norfair did not (the rates: BENCHMARKS.md, section 4), and it is the one of them that
installs beside our numpy 2 and opencv-python-headless: norfair pins numpy < 2, `trackers`
(ByteTrack's new home) pulls opencv-python, whose cv2 clashes with ours. supervision marks its
ByteTrack deprecated from 0.28 and drops it in 0.31, hence the pin."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from service.agent.decisions import Person, expression
from service.vision.classifier import HAPPY


@dataclass
class Track:
    frames: int              # every frame the face was tracked in, read or not
    read_frames: int         # of them, those whose face was large enough to read
    probability_sum: np.ndarray  # over the read frames only
    happy_frames: int        # of the read frames, those decided happy one by one
    last_seen: datetime
    last_update: int


class FaceTracker:
    """Feed it each analysed frame's detections (boxes and class scores); it answers the people
    whose tracks finished with that frame."""

    def __init__(self, classes: tuple[str, ...], fps: float, patience_s: float = 3.0, min_frames: int = 3) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # import noise, and the deprecation the pin accounts for
            import supervision as sv

            self._sv = sv
            # supervision counts lost_track_buffer in frames at 30 fps: this keeps a lost face patience_s
            self._tracker = sv.ByteTrack(lost_track_buffer=round(patience_s * 30), frame_rate=fps,
                                         minimum_consecutive_frames=1)
        self.classes, self.min_frames = classes, min_frames
        self.updates = 0
        self.live: dict[int, Track] = {}
        self.noise = 0  # tracks dropped for being shorter than min_frames

    def update(self, moment: datetime, detections: list, unread_boxes: Sequence = ()) -> list[Person]:
        """Associate one frame's faces, its detections (service.vision.pipeline.Detection, read)
        and its `unread_boxes` (FaceBox, too small to read), all in one association, and answer
        the people whose tracks have now ended."""
        self.updates += 1
        boxes = [detection.box for detection in detections] + list(unread_boxes)
        readings = [self._reading(detection) for detection in detections] + [None] * len(unread_boxes)
        for reading, track_id in zip(readings, self._track_ids(boxes)):
            if track_id is not None:
                self._extend(track_id, reading, moment)
        lost_after = self._tracker.max_time_lost
        return self._finish([i for i, track in self.live.items() if self.updates - track.last_update > lost_after])

    def finish_all(self) -> list[Person]:
        """End every live track (the source ended or the agent stops)."""
        return self._finish(list(self.live))

    @property
    def oldest_live(self) -> datetime | None:
        """The earliest last sighting of a live track: no bucket after it can close yet."""
        return min((track.last_seen for track in self.live.values()), default=None)

    def _track_ids(self, face_boxes: list) -> list[int | None]:
        """ByteTrack's id for each face box; None for one it holds back (a new face is given an
        id at its second sighting) or drops."""
        ids: list[int | None] = [None] * len(face_boxes)
        if not face_boxes:
            self._tracker.update_with_detections(self._sv.Detections.empty())
            return ids
        boxes = np.array([[b.left, b.top, b.right, b.bottom] for b in face_boxes], np.float32)
        tracked = self._tracker.update_with_detections(self._sv.Detections(
            xyxy=boxes, confidence=np.ones(len(boxes), np.float32),  # HOG gives no score: all alike
            class_id=np.zeros(len(boxes), int), data={"row": np.arange(len(boxes))}))
        for row, track_id in zip(tracked.data.get("row", ()), tracked.tracker_id):  # no data: no track yet
            ids[int(row)] = int(track_id)
        return ids

    def _reading(self, detection) -> tuple[np.ndarray, bool]:
        """A read face's class probabilities and whether the pipeline decided it happy (its label:
        the model's served rule, so the agent never decides a frame another way)."""
        return np.array([detection.scores[c] for c in self.classes], np.float64), detection.label == HAPPY

    def _extend(self, track_id: int, reading: tuple[np.ndarray, bool] | None, moment: datetime) -> None:
        """Add one frame to the track; `reading` None: the face was unread in this frame."""
        track = self.live.get(track_id)
        if track is None:
            track = self.live[track_id] = Track(0, 0, np.zeros(len(self.classes)), 0, moment, self.updates)
        track.frames += 1
        if reading is not None:
            scores, happy = reading
            track.read_frames += 1
            track.probability_sum += scores
            track.happy_frames += happy
        track.last_seen, track.last_update = moment, self.updates

    def _finish(self, track_ids: list[int]) -> list[Person]:
        people = []
        for track_id in track_ids:
            track = self.live.pop(track_id)
            if track.frames < self.min_frames:
                self.noise += 1
                continue
            people.append(self._person(track))
        return people

    def _person(self, track: Track) -> Person:
        """The finished track decided from its read frames (decisions.expression); unread (label
        None) without any."""
        label = None
        if track.read_frames:
            label = expression(track.probability_sum, track.happy_frames, self.classes, track.read_frames)
        return Person(track.last_seen, track.frames, label)
