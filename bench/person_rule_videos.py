"""The per-person decision rules of bench/person_rule.py on the real agent: composed walk videos
in which a walker's face changes expression for part of the walk (bench/scenes.py), and the
shared footage. The agent's own detector, classifier and tracker run on every sampled frame; for
this bench only, the tracker also keeps each track's per-frame probabilities (the agent keeps
counts and sums), so that every rule decides the very same tracks."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

from service.agent.tracking import FaceTracker

log = logging.getLogger("bench.person_rule")

AGENT_FPS, VIDEO_FPS = 5.0, 10.0
FOOTAGE_FPS = 29.97  # the shared clip's own rate: its frame numbers are bench/footage_truth.py's
# sprites by photo and the index of the face HOG cuts there, chosen by eye: the same man without
# and with a smile (Biden; Obama), two faces that never smile, and the astronaut, who smiles
SPRITES = {"biden": ("biden.jpg", 0), "biden_smiling": ("obama_and_biden.jpg", 0),
           "obama": ("two_people.jpg", 0), "obama_smiling": ("obama-480p.jpg", 0),
           "snow": ("johnsnow_test1.jpg", 0), "astronaut": (None, 0)}
# walker -> (face, smiling face or None, smile share of the time in view); the episode's place
# (first, middle or last part of the walk) changes from video to video
WALKERS = (("biden", "biden_smiling", 1 / 3), ("obama", "obama_smiling", 1 / 3), ("snow", None, 0.0),
           ("biden", None, 0.0), ("astronaut", None, 1.0), ("obama", "obama_smiling", 1 / 6))
PLACES = ("first", "middle", "last")


class RecordingTracker(FaceTracker):
    """The agent's tracker, which also records per track its per-frame probabilities and happy
    decisions, and where it was (bench only: the agent keeps no such list)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.records: dict[int, dict] = {}
        self.finished: list[dict] = []

    def _track_ids(self, face_boxes: list) -> list[int | None]:
        ids = super()._track_ids(face_boxes)
        for box, track_id in zip(face_boxes, ids):
            if track_id is not None:
                record = self.records.setdefault(track_id, {"rows": [], "happy": [], "seen": [], "read_updates": []})
                record["seen"].append((self.updates, (box.left + box.right) / 2, (box.top + box.bottom) / 2))
        return ids

    def _extend(self, track_id: int, reading: tuple[np.ndarray, bool] | None, moment: datetime) -> None:
        super()._extend(track_id, reading, moment)
        if reading is not None:
            self.records[track_id]["rows"].append(reading[0])
            self.records[track_id]["happy"].append(reading[1])
            self.records[track_id]["read_updates"].append(self.updates)

    def _finish(self, track_ids: list[int]) -> list:
        long_enough = [i for i in track_ids if self.live[i].frames >= self.min_frames]
        people = super()._finish(track_ids)
        for track_id, person in zip(long_enough, people):
            record = self.records.pop(track_id)
            self.finished.append({**record, "agent": person.label})
        for track_id in track_ids:
            self.records.pop(track_id, None)
        return people


def run_agent(video: Path, detector: str = "blazeface", min_face_px: int | None = None) -> list[dict]:
    """Every finished track of the agent's loop over `video`: per-frame probabilities, where it
    was at each update, and the agent's own label."""
    import cv2

    from service.agent.source import FileSource
    from service.config import Settings
    from service.main import build_pipeline

    pipeline = build_pipeline(Settings(detector=detector, min_face_px=min_face_px))
    tracker = RecordingTracker(pipeline.classifier.classes, AGENT_FPS)
    source = FileSource(str(video), AGENT_FPS)
    conversion = cv2.COLOR_BGR2GRAY if pipeline.takes_gray else cv2.COLOR_BGR2RGB
    offsets = []
    for sample in source.samples():
        offsets.append((sample.moment - source.start).total_seconds())
        analysis = pipeline.analyze(cv2.cvtColor(sample.frame, conversion))
        tracker.update(sample.moment, analysis.detections, analysis.unread_boxes)
    tracker.finish_all()
    source.close()
    for record in tracker.finished:  # updates are counted from 1
        record["seconds"] = [(offsets[update - 1], x, y) for update, x, y in record["seen"]]
        record["read"] = [(offsets[update - 1], None, None) for update in record["read_updates"]]
    return tracker.finished


def sprites(samples: Path) -> dict:
    from bench.scenes import faces

    chosen = {}
    for name, (photo, index) in SPRITES.items():
        cut = faces((samples / photo,)) if photo else faces(())
        chosen[name] = cut[0] if photo is None else cut[1 + index]
    return chosen


def walk_scene(place: str):
    """Six walkers (bench/scenes.py's crossing scene) with the faces and smile episodes of WALKERS."""
    from bench.scenes import crossing_scene

    names = list(SPRITES)
    walks = []
    for walk, (face, smiling, share) in zip(crossing_scene(len(WALKERS), 16.0).walks, WALKERS):
        start = {"first": 0.0, "middle": (1 - share) / 2, "last": 1 - share}[place]
        episode = (names.index(smiling), start, start + share) if smiling else None
        walks.append(dataclasses.replace(walk, face=names.index(face), episode=episode))
    return dataclasses.replace(crossing_scene(len(WALKERS), 16.0), walks=tuple(walks))


def walker_of(record: dict, scene, size: tuple[int, int]) -> int:
    """The walker whose true face centre lies nearest the track's, summed over its sightings."""
    distance = np.zeros(scene.people)
    for seconds, x, y in record["seconds"]:
        for person, walk in enumerate(scene.walks):
            where = walk.at(seconds)
            distance[person] += (np.hypot(where[0] * size[0] - x, where[1] * size[1] - y)
                                 if where else 10 * size[0])
    return int(distance.argmin())


def walk_videos(samples: Path, table: dict) -> list[dict]:
    """Per walker and video: the truth, the read frames, and each rule's decision."""
    from bench.scenes import write_video

    cutouts, rows, size = tuple(sprites(samples).values()), [], (640, 360)
    with tempfile.TemporaryDirectory() as folder:
        for place in PLACES:
            scene, video = walk_scene(place), Path(folder) / f"walk-{place}.avi"
            write_video(video, scene, cutouts, size, VIDEO_FPS)
            records = run_agent(video)
            log.info("walk video, smile %s: %d tracks for %d walkers", place, len(records), scene.people)
            for record in records:
                walker = walker_of(record, scene, size)
                shown = smiling_frames(scene.walks[walker], WALKERS[walker], record["read"])
                rows.append(decided(record, table, place=place, walker=walker, face=WALKERS[walker][0],
                                    smile_share=round(WALKERS[walker][2], 3),
                                    smile_share_read=round(float(np.mean(shown)) if shown else 0.0, 3),
                                    truth_happy=bool(shown) and float(np.mean(shown)) >= 1 / 3 - 1e-9))
    return rows


def smiling_frames(walk, walker: tuple, read: list) -> list[bool]:
    """For each read frame of a walker's track, whether the walker's face smiled then."""
    face, smiling, share = walker
    smile = list(SPRITES).index(smiling) if smiling else list(SPRITES).index(face) if share == 1 else None
    return [walk.face_at(seconds) == smile for seconds, _, _ in read]


def decided(record: dict, table: dict, **about) -> dict:
    """One track's row: what it is (`about`), its read frames, the agent's own label, the mean
    p(happy), the frames the agent decided happy one by one and each rule's decision (happy or not)."""
    from service.core.emotions import EMOTIONS

    frames = np.array(record["rows"])
    row = {**about, "read_frames": len(frames), "agent": record["agent"]}
    if len(frames):
        row["mean_p_happy"] = round(float(frames[:, EMOTIONS.index("happy")].mean()), 3)
        row["happy_frames"] = sum(record["happy"])
        row.update({name: bool(rule(frames)) for name, rule in table.items()})
    return row


def footage(path: Path, table: dict) -> list[dict]:
    """The agent's tracks on the shared footage, each with its first and last frame of the file."""
    from bench.footage_truth import APPEARANCES

    records = run_agent(path)
    log.info("footage: %d tracks (%d appearances by eye)", len(records), APPEARANCES)
    rows = []
    for record in records:
        first, last = record["seconds"][0], record["seconds"][-1]
        rows.append(decided(record, table, first_frame=round(first[0] * FOOTAGE_FPS),
                            last_frame=round(last[0] * FOOTAGE_FPS), centre=[round(first[1]), round(first[2])]))
    return rows
