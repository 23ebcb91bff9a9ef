"""Synthetic class folders for the training tests, written with OpenCV.

The "faces" are drawn patterns (a class-specific bar orientation plus noise), so a tiny model
can learn them in a couple of epochs; no real face image is ever written.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SHARED_FER = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "fer2013"


def synthetic_face(class_index: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A grey image with a bright bar whose angle encodes the class, plus noise."""
    image = rng.normal(110, 20, (size, size)).clip(0, 255).astype(np.uint8)
    angle = np.pi * class_index / 7
    centre = size // 2
    dx, dy = int(18 * np.cos(angle)), int(18 * np.sin(angle))
    cv2.line(image, (centre - dx, centre - dy), (centre + dx, centre + dy), 250, 5)
    return image


def write_class_folders(root: Path, per_class: dict[str, int], seed: int = 0, size: int = 48) -> Path:
    """Write ``per_class[name]`` synthetic JPEGs into ``root/<name>/``; folder names index classes by order."""
    rng = np.random.default_rng(seed)
    order = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    for name, count in per_class.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        index = order.index(name) if name in order else len(name) % 7
        for i in range(count):
            cv2.imwrite(str(folder / f"{i:03d}.jpg"), cv2.resize(synthetic_face(index, rng), (size, size)))
    return root
