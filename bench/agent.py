"""The edge agent's speed and what it counts, on composed video (bench/scenes.py): the agent's own
per-frame work (read and sample the file, convert, detect, classify, track, tally the buckets)
in this process pinned to ONE core, as on a small edge machine, without a server.

    happiness bench agent [--quick]

For each detector, video size and minimum face size: frames analysed per second (wall and CPU),
the milliseconds of each stage, and people counted against the true number of people beside the
sightings (faces in all analysed frames): what a frame-posting camera would have counted. The
shared footage (../shared/footage, people counted by eye in bench/footage_truth.py) runs too, and
the seed pipeline's CPU per frame on the 720p video gives the agent's speed-up over it."""

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
FOOTAGE_PRESENT = (DEFAULT_SAMPLES.parent / "footage" / "hamilton_clip.mp4").is_file()


@dataclass(frozen=True)
class Case:
    size: tuple[int, int]
    min_face_px: int | None  # None: the detector's own default
    people: int
    seconds: float
    detector: str = "blazeface"
    footage: bool = False  # the shared clip instead of a composed video


CASES = (Case((1280, 720), None, 6, 16.0), Case((640, 360), None, 6, 16.0),
         Case((1280, 720), 48, 6, 16.0, "hog"), Case((640, 360), 48, 6, 16.0, "hog"),
         Case((640, 360), None, 0, 0.0, footage=True), Case((640, 360), 48, 0, 0.0, "hog", footage=True))
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
        size = f"{self.case.size[0]}x{self.case.size[1]}" + (" footage" if self.case.footage else "")
        stages = " / ".join(f"{self.stage_ms[s]:.0f}" for s in ("read", "detect", "classify", "track"))
        return (f"| {self.case.detector} | {size} | {self.case.min_face_px or 'default'} | {self.frames} | "
                f"{self.frames / self.wall_s:.1f} | "
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

    pipeline = build_pipeline(Settings(detector=case.detector, min_face_px=case.min_face_px))
    tracker = FaceTracker(pipeline.classifier.classes, AGENT_FPS)
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
        sightings, people = sightings + analysis.sightings, people + finished
        if warm:
            totals.add(lap, read_ms, analysis.timings_ms, track_ms)
        warm = True
    people += len(tracker.finish_all())
    source.close()
    stage_ms = {stage: ms / max(1, totals.frames) for stage, ms in totals.stage_ms.items()}
    return Result(case, totals.frames, totals.wall_s, totals.cpu_s, stage_ms, people, sightings, tracker.noise)


def _analyse(pipeline, tracker, book, sample):
    import cv2

    conversion = cv2.COLOR_BGR2GRAY if pipeline.takes_gray else cv2.COLOR_BGR2RGB
    analysis = pipeline.analyze(cv2.cvtColor(sample.frame, conversion))
    started = time.perf_counter()
    finished = tracker.update(sample.moment, analysis.detections, analysis.unread_boxes)
    book.add_frame(sample.moment, analysis.sightings)
    for person in finished:
        book.add_person(person)
    return analysis, (time.perf_counter() - started) * 1e3, len(finished)


def compose(case: Case, folder: Path) -> Path:
    from bench.detect import FOOTAGE
    from bench.scenes import crossing_scene, faces, write_video

    if case.footage:
        return FOOTAGE
    photos = tuple(DEFAULT_SAMPLES / name for name in PHOTOS if (DEFAULT_SAMPLES / name).exists())
    video = folder / f"scene-{case.size[0]}x{case.size[1]}-{case.people}.avi"
    if not video.exists():
        write_video(video, crossing_scene(case.people, case.seconds), faces(photos), case.size, VIDEO_FPS)
    return video


def main(quick: bool) -> int:
    from bench.footage_truth import APPEARANCES

    rows, cases = [], [case for case in (QUICK if quick else CASES) if not case.footage or FOOTAGE_PRESENT]
    with tempfile.TemporaryDirectory() as folder, one_core() as pinned:
        for case in cases:
            result = measure(case, compose(case, Path(folder)))
            if case.footage:
                result.case = Case(case.size, case.min_face_px, APPEARANCES, case.seconds, case.detector, True)
            rows.append(result.row())
        seed = None if quick else seed_cpu_ms(compose(CASES[0], Path(folder)))
    print(f"\nAgent, people mode, {AGENT_FPS:g} frames/s sampled from a {VIDEO_FPS:g} frames/s Motion-JPEG file "
          f"(the footage: its own 29.97), one process pinned to {pinned}, the committed model:\n")
    print("| detector | video | min face px | frames | frames/s (wall) | frames/s (CPU) | ms per frame: read / detect / "
          "classify / track | people (truth) | people counted | sightings | sightings per person | "
          "tracks dropped as noise |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    if seed is not None:
        print(f"\nThe seed pipeline (face_recognition HOG, one upsample, Keras per face) on frames of the 1280x720 "
              f"video: {seed:.0f} ms CPU per frame, {1e3 / seed:.1f} frames/s per core.")
    return 0


def seed_cpu_ms(video: Path, frames: int = 10) -> float:
    """The seed's CPU per frame (detect + classify, as bench/pipelines.py runs it) on evenly
    spread frames of `video`: the baseline of the agent's speed-up."""
    import statistics

    import cv2

    from bench.pipelines import SeedPipeline

    seed, capture = SeedPipeline(), cv2.VideoCapture(str(video))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    costs = []
    for number in range(0, total, max(1, total // frames)):
        capture.set(cv2.CAP_PROP_POS_FRAMES, number)
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        started = time.process_time()
        seed.classify(rgb, seed.detect(rgb))
        costs.append((time.process_time() - started) * 1e3)
    capture.release()
    return statistics.median(costs)
