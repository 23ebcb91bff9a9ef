"""Shared fixtures for the vision tests: real photos, held in memory only."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

# ../shared/samples next to the repository checkout
SAMPLES_DIR = Path(__file__).resolve().parents[3] / "shared" / "samples"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (512 x 512 RGB, one face)."""
    from skimage import data  # a test dependency: fail, don't skip, when it is missing

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"sample photos not present at {SAMPLES_DIR.resolve()} (../shared/samples)")
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def load_sample(samples_dir: Path):
    """Decode a sample JPEG to RGB through the service's own decoder."""
    from service.vision.decode import decode_image

    def load(name: str) -> np.ndarray:
        return decode_image((samples_dir / name).read_bytes(), max_pixels=40_000_000)

    return load


@pytest.fixture
def encode():
    """Encode a Pillow image to bytes in memory (nothing touches the disk)."""

    def to_bytes(image, image_format: str, **params) -> bytes:
        buffer = BytesIO()
        image.save(buffer, format=image_format, **params)
        return buffer.getvalue()

    return to_bytes
