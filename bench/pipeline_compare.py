"""Seed pipeline vs the service's pipeline, side by side in one run on the same frames.

    happiness bench pipeline [--repeat 5] [--quick] [--samples ../shared/samples]

For every frame both pipelines take turns call by call (a burst of load from elsewhere hits
both alike), after one warm-up run each that also gives the faces found. Prints Markdown:
per frame the CPU and wall ms, the speed-up, faces found by each and the seed faces the
service missed (only faces at least as tall as the smallest it is configured to find count
as misses); then the split into decode / detect / classify / store, and frames/s per core.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from bench.frames import Frame, load_frames
from bench.pipelines import STAGES, Run, SeedPipeline, ServicePipeline, Store
from bench.timing import StageTimes
from service.config import Settings
from service.vision.detectors.base import FaceBox

MATCH_IOU = 0.3  # the two detectors box a face at different scales; their boxes overlap well above this


@dataclass
class FrameResult:
    frame: Frame
    times: dict[str, StageTimes] = field(default_factory=lambda: {"seed": StageTimes(), "service": StageTimes()})
    faces: dict[str, list[FaceBox]] = field(default_factory=dict)
    required_px: float = 0.0

    def cpu(self, pipeline: str) -> float:
        return sum(self.times[pipeline].median_cpu(stage) for stage in STAGES)

    def wall(self, pipeline: str) -> float:
        return sum(self.times[pipeline].median_wall(stage) for stage in STAGES)

    def misses(self) -> list[FaceBox]:
        """Seed faces of at least the required height that no service box overlaps."""
        found = self.faces["service"]
        return [face for face in self.faces["seed"] if face.height >= self.required_px
                and not any(face.iou(box) >= MATCH_IOU for box in found)]


def run_comparison(frames: list[Frame], repeat: int, settings: Settings) -> list[FrameResult]:
    pipelines = {"seed": SeedPipeline(), "service": ServicePipeline(settings)}
    store = Store(settings)
    results = [FrameResult(frame) for frame in frames]
    with tqdm(total=len(frames) * (repeat + 1), desc="frames", unit="frame", disable=None) as progress:
        for result in results:
            _measure_frame(result, pipelines, store, repeat, progress)
    expected = len(frames) * (repeat + 1) * len(pipelines)
    if store.stored_frames() != expected:
        raise RuntimeError(f"stored {store.stored_frames()} frames, sent {expected}")
    return results


def _measure_frame(result: FrameResult, pipelines: dict, store: Store, repeat: int, progress) -> None:
    for name, pipeline in pipelines.items():  # warm-up run; its boxes are the faces found
        result.faces[name] = [d.box for d in pipeline.run(result.frame.data, store).analysis.detections]
    progress.update(1)
    result.required_px = pipelines["service"].smallest_face_px(result.frame.width, result.frame.height)
    for _ in range(repeat):
        for name, pipeline in pipelines.items():
            _record(result.times[name], pipeline.run(result.frame.data, store))
        progress.update(1)


def _record(times: StageTimes, run: Run) -> None:
    for stage, lap in run.laps.items():
        times.add(stage, lap)


def frames_per_core_second(results: list[FrameResult], pipeline: str) -> float:
    """Frames per CPU-second: what one core sustains when it does nothing else."""
    return len(results) * 1000 / sum(result.cpu(pipeline) for result in results)


def markdown(results: list[FrameResult], repeat: int, settings: Settings) -> str:
    lines = [f"service detector `{settings.detector}`, min_face_px {settings.min_face_px}, max working "
             f"width {settings.max_working_width}; medians of {repeat} interleaved runs per frame; "
             "cpu = process CPU ms, ms = wall ms", "", *_summary_table(results), "",
             *_stage_table(results), "", *_throughput_lines(results)]
    return "\n".join(lines)


def _summary_table(results: list[FrameResult]) -> list[str]:
    rows = ["| frame | size | seed cpu | service cpu | speed-up (cpu) | seed ms | service ms "
            "| speed-up (wall) | seed faces | service faces | must find (px) | missed |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        seed_cpu, ours_cpu, seed_ms, ours_ms = r.cpu("seed"), r.cpu("service"), r.wall("seed"), r.wall("service")
        rows.append(f"| {r.frame.name} | {r.frame.width}x{r.frame.height} | {seed_cpu:.1f} | {ours_cpu:.1f} "
                    f"| {seed_cpu / ours_cpu:.1f}x | {seed_ms:.1f} | {ours_ms:.1f} | {seed_ms / ours_ms:.1f}x "
                    f"| {len(r.faces['seed'])} | {len(r.faces['service'])} | >= {r.required_px:.0f} "
                    f"| {len(r.misses())} |")
    return rows


def _stage_table(results: list[FrameResult]) -> list[str]:
    rows = ["| frame | pipeline | decode cpu | detect cpu | classify cpu | store cpu | classify per face |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        for name in ("seed", "service"):
            cells = " | ".join(f"{r.times[name].median_cpu(stage):.1f}" for stage in STAGES)
            faces = len(r.faces[name])
            per_face = f"{r.times[name].median_cpu('classify') / faces:.2f}" if faces else "-"
            rows.append(f"| {r.frame.name} | {name} | {cells} | {per_face} |")
    return rows


def _throughput_lines(results: list[FrameResult]) -> list[str]:
    seed, ours = frames_per_core_second(results, "seed"), frames_per_core_second(results, "service")
    misses = sum(len(r.misses()) for r in results)
    return [f"frames/s per core (all frames): seed {seed:.2f}, service {ours:.2f}, ratio {ours / seed:.1f}x",
            f"seed faces the service missed (of the sizes it must find): {misses}"]


def main(samples: Path, repeat: int, quick: bool) -> int:
    frames = load_frames(samples, quick=quick)
    if not frames:
        raise SystemExit(f"no .jpg frames in {samples}")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), admin_token="bench-admin-token-0123456789abcdef0123")
        results = run_comparison(frames, 1 if quick else repeat, settings)
        print(markdown(results, 1 if quick else repeat, settings))
    return 1 if any(r.misses() for r in results) else 0
