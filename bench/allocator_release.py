"""What handing free memory back after each frame costs (service.runtime.memory.release_free_memory):
the soak's valid frames decoded one after another in this process, as a worker does, each
followed by the release; median milliseconds per frame of the decode and of the release.

    python bench/allocator_release.py [--samples ../shared/samples] [--rounds 3]"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.soak import valid_bodies
from service.runtime.memory import release_free_memory, tune_allocator
from service.vision.decode import decode_image

MAX_PIXELS = 40_000_000


def measure(samples: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """Per body: (median decode ms, median release ms)."""
    tune_allocator()
    bodies = valid_bodies(samples, quick=False)
    times: dict[str, list[tuple[float, float]]] = {body.name: [] for body in bodies}
    for _ in range(rounds):
        for body in bodies:
            started = time.perf_counter()
            frame = decode_image(body.data, max_pixels=MAX_PIXELS, gray=True)
            decoded = time.perf_counter()
            del frame  # the frame's own large block is unmapped here, outside the release's time
            releasing = time.perf_counter()
            release_free_memory()
            times[body.name].append(((decoded - started) * 1e3, (time.perf_counter() - releasing) * 1e3))
    return {name: (statistics.median(d for d, _ in pairs), statistics.median(r for _, r in pairs))
            for name, pairs in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=Path("../shared/samples"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results = measure(args.samples, args.rounds)
    print("| frame | decode ms | release ms |\n| --- | ---: | ---: |")
    for name, (decode_ms, release_ms) in results.items():
        print(f"| {name} | {decode_ms:.1f} | {release_ms:.3f} |")
    releases_ms = [release for _, release in results.values()]
    print(f"release per frame: median {statistics.median(releases_ms):.3f} ms, largest {max(releases_ms):.3f} ms "
          f"({len(results) * args.rounds} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
