"""The edge agent's speed and what it counts, on composed video (bench/scenes.py): the agent's own
per-frame work (read and sample the file, convert, detect, classify, track, tally the buckets)
in this process pinned to ONE core, as on a small edge machine, without a server.

    happiness bench agent [--quick]

For each video size and minimum face size: frames analysed per second (wall and CPU), the
milliseconds of each stage, and people counted against the true number of people beside the
sightings (faces in all analysed frames): what a frame-posting camera would have counted."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.frames import DEFAULT_SAMPLES
from bench.timing import measured

PHOTOS = ("alex_lacamoire1.jpg", "biden.jpg", "johnsnow_test1.jpg", "two_people.jpg")
AGENT_FPS = 5.0
VIDEO_FPS = 10.0


@dataclass(frozen=True)
class Case:
    size: tuple[int, int]
    min_face_px: int
    people: int
    seconds: float


CASES = (Case((1280, 720), 48, 6, 16.0), Case((1280, 720), 96, 6, 16.0), Case((640, 360), 48, 6, 16.0),
         Case((640, 360), 64, 6, 16.0))
QUICK = (Case((640, 360), 64, 2, 6.0),)


@dataclass
class Result:
    case: Case
    frames: int
    wall_s: float
    cpu_s: float
    stage_ms: dict[str, float]
    people: int
    sightings: int
    noise: int

    def row(self) -> str:
        size = f"{self.case.size[0]}x{self.case.size[1]}"
        stages = " / ".join(f"{self.stage_ms[s]:.0f}" for s in ("read", "detect", "classify", "track"))
        return (f"| {size} | {self.case.min_face_px} | {self.frames} | {self.frames / self.wall_s:.1f} | "
                f"{self.frames / self.cpu_s:.1f} | {stages} | {self.case.people} | {self.people} | "
                f"{self.sightings} | {self.sightings / max(1, self.people):.1f} | {self.noise} |")


@contextmanager
def one_core() -> Iterator[str]:
    """This process pinned to one core meanwhile, as `taskset -c N` would; yields which core (or
    why not), and restores the process's cores after."""
    try:
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
    except (AttributeError, OSError) as error:
        yield f"no core (not pinned: {error})"
        return
    try:
        yield f"core {min(cores)}"
    finally:
        os.sched_setaffinity(0, cores)


@dataclass
class Totals:
    """Time spent over the timed frames (all but the first, which warms the model up)."""

    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("read", "detect", "classify", "track"), 0.0))

    def add(self, lap, read_ms: float, pipeline_ms: dict[str, float], track_ms: float) -> None:
        self.frames += 1
        self.wall_s += lap.wall_ms / 1e3
        self.cpu_s += lap.cpu_ms / 1e3
        for stage, ms in (("read", read_ms), ("detect", pipeline_ms["detect"]),
                          ("classify", pipeline_ms["classify"]), ("track", track_ms)):
            self.stage_ms[stage] += ms


def measure(case: Case, video: Path) -> Result:
    """The agent's loop over the whole file, each stage timed."""
    from service.agent.decisions import BucketBook
    from service.agent.source import FileSource
    from service.agent.tracking import FaceTracker
    from service.config import Settings
    from service.main import build_pipeline

    pipeline = build_pipeline(Settings(min_face_px=case.min_face_px))
    tracker = FaceTracker(pipeline.classifier.classes, AGENT_FPS, happy_threshold=pipeline.classifier.happy_threshold)
    book, source = BucketBook(15), FileSource(str(video), AGENT_FPS)
    samples, totals = source.samples(), Totals()
    sightings = people = 0
    warm = False
    while True:
        with measured() as lap:
            started = time.perf_counter()
            sample = next(samples, None)
            read_ms = (time.perf_counter() - started) * 1e3
            if sample is None:
                break
            analysis, track_ms, finished = _analyse(pipeline, tracker, book, sample)
        sightings, people = sightings + analysis.faces, people + finished
        if warm:
            totals.add(lap, read_ms, analysis.timings_ms, track_ms)
        warm = True
    people += len(tracker.finish_all())
    source.close()
    stage_ms = {stage: ms / max(1, totals.frames) for stage, ms in totals.stage_ms.items()}
    return Result(case, totals.frames, totals.wall_s, totals.cpu_s, stage_ms, people, sightings, tracker.noise)


def _analyse(pipeline, tracker, book, sample):
    import cv2

    analysis = pipeline.analyze(cv2.cvtColor(sample.frame, cv2.COLOR_BGR2GRAY))
    started = time.perf_counter()
    finished = tracker.update(sample.moment, analysis.detections)
    book.add_frame(sample.moment, analysis.faces)
    for person in finished:
        book.add_person(person)
    return analysis, (time.perf_counter() - started) * 1e3, len(finished)


def compose(case: Case, folder: Path) -> Path:
    from bench.scenes import crossing_scene, faces, write_video

    photos = tuple(DEFAULT_SAMPLES / name for name in PHOTOS if (DEFAULT_SAMPLES / name).exists())
    video = folder / f"scene-{case.size[0]}x{case.size[1]}-{case.people}.avi"
    if not video.exists():
        write_video(video, crossing_scene(case.people, case.seconds), faces(photos), case.size, VIDEO_FPS)
    return video


def main(quick: bool) -> int:
    rows = []
    with tempfile.TemporaryDirectory() as folder, one_core() as pinned:
        for case in QUICK if quick else CASES:
            rows.append(measure(case, compose(case, Path(folder))).row())
    print(f"\nAgent, people mode, {AGENT_FPS:g} frames/s sampled from a {VIDEO_FPS:g} frames/s Motion-JPEG file, "
          f"one process pinned to {pinned}, HOG detector and the committed model:\n")
    print("| video | min face px | frames | frames/s (wall) | frames/s (CPU) | ms per frame: read / detect / "
          "classify / track | people (truth) | people counted | sightings | sightings per person | "
          "tracks dropped as noise |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0
