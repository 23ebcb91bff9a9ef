"""The frames every pipeline benchmark uses: the sample photos as they are, plus larger
frames composed from them (2x2 tiles), all kept as encoded JPEG bytes so decoding is timed."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
QUICK_SAMPLES = ("obama-480p.jpg", "two_people.jpg")
TILED_SAMPLES = ("obama-480p.jpg", "obama-720p.jpg")


@dataclass(frozen=True)
class Frame:
    name: str
    data: bytes
    width: int
    height: int


def load_frames(samples: Path, quick: bool = False) -> list[Frame]:
    """Every sample (two in quick mode) plus 2x2 tiles of the 480p and 720p frames."""
    paths = sorted(samples.glob("*.jpg"))
    if quick:
        paths = [path for path in paths if path.name in QUICK_SAMPLES]
    frames = [_frame(path.name, path.read_bytes()) for path in paths]
    tiles = [] if quick else [_tiled(samples / name) for name in TILED_SAMPLES if (samples / name).exists()]
    return frames + tiles


def _frame(name: str, data: bytes) -> Frame:
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return Frame(name, data, width, height)


def _tiled(path: Path) -> Frame:
    """Four copies of a photo in a 2x2 grid: a larger frame with four times the faces, the
    case a wide street camera sends."""
    tile = np.asarray(Image.open(path).convert("RGB"))
    grid = np.vstack([np.hstack([tile, tile]), np.hstack([tile, tile])])
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="JPEG", quality=90)
    return _frame(f"2x2 {path.name}", buffer.getvalue())
