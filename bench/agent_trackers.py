"""Which tracking library the edge agent uses, chosen by measurement: the detections of the
service's own pipeline on composed videos (bench/scenes.py, where every person's true face box is
known) are given to each candidate tracker, sampled at several frame rates, and each tracker's
people counted, identity switches and time per update are compared with the truth.

Two steps, because the candidates cannot share one environment with the service (norfair pins
numpy < 2; the `trackers` package pulls opencv-python, whose cv2 clashes with ours):

    python -m bench.agent_trackers record runs/tracker-detections.json     # service venv
    python bench/agent_trackers.py compare runs/tracker-detections.json    # any venv with a tracker

`compare` needs only numpy and whichever of supervision (0.30: ByteTrack), trackers (ByteTrack,
SORT, OC-SORT) and norfair are installed; it skips the others and says so."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

PATIENCE_S = 3.0  # how long every tracker keeps a person it lost (occlusion while crossing): the agent's default
MIN_TRACK_FRAMES = 3  # the agent's default: shorter tracks are dropped as noise
TRUTH_IOU = 0.4
SCENES = ({"people": 4, "seconds": 12.0}, {"people": 6, "seconds": 16.0})


# --- record (service environment) ------------------------------------------------------------

def record(path: Path, fps: float = 10.0) -> None:
    """Compose each scene, read it back with OpenCV (JPEG artefacts as the agent sees them) and
    keep every frame's detections (x1, y1, x2, y2) and true face boxes."""
    import tempfile

    import cv2

    from bench.scenes import crossing_scene, faces, write_video
    from service.config import Settings
    from service.main import build_pipeline

    pipeline = build_pipeline(Settings(min_face_px=64))
    cutouts = faces(_photos())
    scenes = []
    for spec in SCENES:
        with tempfile.TemporaryDirectory() as folder:
            video = Path(folder) / "scene.avi"
            truths = write_video(video, crossing_scene(**spec), cutouts, fps=fps)
            frames = _detections(cv2.VideoCapture(str(video)), pipeline, truths)
        scenes.append({**spec, "fps": fps, "frames": frames})
        print(f"recorded {spec}: {sum(len(f['detections']) for f in frames)} detections", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scenes": scenes}))


def _photos() -> tuple[Path, ...]:
    from bench.frames import DEFAULT_SAMPLES

    names = ("alex_lacamoire1.jpg", "biden.jpg", "johnsnow_test1.jpg", "two_people.jpg")
    return tuple(DEFAULT_SAMPLES / name for name in names if (DEFAULT_SAMPLES / name).exists())


def _detections(capture, pipeline, truths: list[dict]) -> list[dict]:
    import cv2

    frames = []
    for truth in truths:
        ok, bgr = capture.read()
        if not ok:
            break
        analysis = pipeline.analyze(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        boxes = [[d.box.left, d.box.top, d.box.right, d.box.bottom] for d in analysis.detections]
        frames.append({"detections": boxes,
                       "truth": {str(p): [b[3], b[0], b[1], b[2]] for p, b in truth.items()}})
    return frames


# --- candidates (each: fps -> update(xyxy array) -> a track id or None per row) ----------------

def supervision_bytetrack(fps: float):
    import supervision as sv

    tracker = sv.ByteTrack(lost_track_buffer=round(PATIENCE_S * 30), frame_rate=fps,
                           minimum_consecutive_frames=1)
    return lambda boxes: _ids_by_box(boxes, tracker.update_with_detections(_sv_detections(sv, boxes)))


def trackers_tracker(kind: str):
    def make(fps: float):
        import supervision as sv
        import trackers

        tracker = getattr(trackers, kind)(lost_track_buffer=round(PATIENCE_S * 30), frame_rate=fps,
                                          minimum_consecutive_frames=1)
        return lambda boxes: _ids_by_box(boxes, tracker.update(_sv_detections(sv, boxes)))
    return make


def _sv_detections(sv, boxes: np.ndarray):
    # HOG gives no score: every detection is as sure as any other
    return sv.Detections(xyxy=boxes.reshape(-1, 4).astype(np.float32), confidence=np.ones(len(boxes), np.float32),
                         class_id=np.zeros(len(boxes), int))


def _ids_by_box(boxes: np.ndarray, tracked) -> list[int | None]:
    ids: list[int | None] = [None] * len(boxes)
    for row, track_id in zip(tracked.xyxy, tracked.tracker_id):
        matches = np.flatnonzero(np.all(np.abs(boxes - row) < 0.5, axis=1)) if len(boxes) else []
        if len(matches) and track_id is not None and track_id >= 0:
            ids[int(matches[0])] = int(track_id)
    return ids


def norfair_tracker(distance: str):
    def make(fps: float):
        import norfair

        function, threshold = ("iou", 0.9) if distance == "iou" else (_scaled_centre_distance, 0.6)
        tracker = norfair.Tracker(distance_function=function, distance_threshold=threshold,
                                  hit_counter_max=max(1, round(PATIENCE_S * fps)), initialization_delay=0)

        def update(boxes: np.ndarray) -> list[int | None]:
            detections = [norfair.Detection(points=box.reshape(2, 2).astype(float)) for box in boxes]
            objects = tracker.update(detections=detections)
            ids_of = {id(o.last_detection): o.id for o in objects if o.last_detection is not None}
            return [ids_of.get(id(detection)) for detection in detections]
        return update
    return make


def _scaled_centre_distance(detection, tracked) -> float:
    """Distance of the box centres in box heights (so faces of any size are judged alike)."""
    new, old = detection.points, tracked.estimate
    height = max(1.0, new[1, 1] - new[0, 1])
    return float(np.linalg.norm(new.mean(axis=0) - old.mean(axis=0)) / height)


CANDIDATES: dict[str, Callable] = {
    "supervision 0.30 ByteTrack": supervision_bytetrack,
    "trackers ByteTrackTracker": trackers_tracker("ByteTrackTracker"),
    "trackers SORTTracker": trackers_tracker("SORTTracker"),
    "trackers OCSORTTracker": trackers_tracker("OCSORTTracker"),
    "norfair IoU": norfair_tracker("iou"),
    "norfair centre distance": norfair_tracker("centre"),
}


# --- compare (any environment) ---------------------------------------------------------------

def score(frames: list[dict], step: int, make_update, fps: float) -> dict:
    """Track every `step`-th frame; compare the tracks with the truth."""
    update = make_update(fps / step)
    ids_of_person: dict[str, list[int]] = defaultdict(list)
    hits: dict[int, int] = defaultdict(int)
    seconds = 0.0
    for frame in frames[::step]:
        boxes = np.asarray(frame["detections"], dtype=float).reshape(-1, 4)
        started = time.perf_counter()
        ids = update(boxes)
        seconds += time.perf_counter() - started
        for box, track_id in zip(boxes, ids):
            if track_id is None:
                continue
            hits[track_id] += 1
            person = _true_person(box, frame["truth"])
            if person is not None:
                ids_of_person[person].append(track_id)
    switches = sum(sum(a != b for a, b in zip(ids, ids[1:])) for ids in ids_of_person.values())
    return {"people": sum(count >= MIN_TRACK_FRAMES for count in hits.values()), "id_switches": switches,
            "tracks_per_person": round(np.mean([len(set(ids)) for ids in ids_of_person.values()]), 2),
            "us_per_update": round(seconds / max(1, len(frames[::step])) * 1e6)}


def _true_person(box: np.ndarray, truth: dict[str, list[int]]) -> str | None:
    best, best_iou = None, TRUTH_IOU
    for person, true_box in truth.items():
        overlap = _iou(box, np.asarray(true_box, dtype=float))
        if overlap >= best_iou:
            best, best_iou = person, overlap
    return best


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union if union > 0 else 0.0


def compare(path: Path, steps: tuple[int, ...] = (1, 2, 4, 5, 8)) -> None:
    scenes = json.loads(path.read_text())["scenes"]
    print("| tracker | people (truth) | frames/s | people counted | ID switches | tracks per person | us per update |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, make_update in CANDIDATES.items():
        try:
            make_update(10.0)
        except (ImportError, AttributeError) as error:  # absent, or a version without it
            print(f"| {name} | not here ({error}) | | | | | |")
            continue
        for scene in scenes:
            for step in steps:
                result = score(scene["frames"], step, make_update, scene["fps"])
                print(f"| {name} | {scene['people']} | {scene['fps'] / step:g} | {result['people']} | "
                      f"{result['id_switches']} | {result['tracks_per_person']} | {result['us_per_update']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("record", "compare"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--patience", type=float, default=PATIENCE_S, help="seconds a lost person is kept")
    args = parser.parse_args(argv)
    globals()["PATIENCE_S"] = args.patience
    if args.step == "record":
        record(args.path)
    else:
        compare(args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
