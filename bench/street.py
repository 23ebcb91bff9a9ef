"""A synthetic street: real faces (scenes.faces: the astronaut and the sample photos) pasted at
known sizes into a 1920x1080 frame of buildings, windows, a road and noise, so that a detector's
recall can be read per face size and every other box is a false detection.

    frame, truth = street_scene(faces(), sizes=(16, 24, 48, 200))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.scenes import Face, _paste

SIZES = (16, 20, 24, 32, 48, 64, 96, 128, 200)
FRAME = (1920, 1080)


@dataclass(frozen=True)
class Truth:
    size: int
    box: tuple[int, int, int, int]  # top, right, bottom, left


def street_backdrop(size: tuple[int, int] = FRAME, seed: int = 3) -> np.ndarray:
    """Sky, a row of buildings of several colours with lit and dark windows, a road with lane
    marks, and sensor noise: edges and corners everywhere, and no face."""
    import cv2

    width, height = size
    rng = np.random.default_rng(seed)
    frame = np.empty((height, width, 3), np.float32)
    frame[:] = np.linspace(200, 150, height, dtype=np.float32)[:, None, None] * np.array([0.8, 0.9, 1.0], np.float32)
    x = 0
    while x < width:
        building_w, top = int(rng.integers(120, 320)), int(rng.integers(height // 10, height // 3))
        colour = rng.uniform(60, 200, 3)
        cv2.rectangle(frame, (x, top), (x + building_w, height), colour.tolist(), -1)
        for wy in range(top + 20, int(height * 0.75), 46):
            for wx in range(x + 14, x + building_w - 24, 36):
                shade = rng.choice([40.0, 230.0, 120.0])
                cv2.rectangle(frame, (wx, wy), (wx + 18, wy + 26), (shade, shade, shade * 0.9), -1)
        x += building_w + int(rng.integers(0, 30))
    road = int(height * 0.8)
    frame[road:] = 70
    for lane_x in range(0, width, 160):
        cv2.rectangle(frame, (lane_x, road + 60), (lane_x + 80, road + 70), (230, 230, 230), -1)
    frame += rng.normal(0, 5, frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255)


def street_scene(cutouts: Sequence[Face], sizes: Sequence[int] = SIZES, per_size: int = 4,
                 size: tuple[int, int] = FRAME, seed: int = 3) -> tuple[np.ndarray, list[Truth]]:
    """The street with `per_size` faces of each height in `sizes` (face box height in pixels),
    laid out left to right in rows without overlap; answers the RGB frame and the true boxes."""
    import cv2

    frame, truths = street_backdrop(size, seed), []
    x, y, row_height = 20, 20, 0
    for index, face_px in enumerate(np.repeat(sizes, per_size)):
        face = cutouts[index % len(cutouts)]
        scale = face_px / (face.box[2] - face.box[0])
        pixels = cv2.resize(face.pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(face.alpha, (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_LINEAR)
        if x + pixels.shape[1] > size[0]:
            x, y, row_height = 20, y + row_height + 10, 0
        if y + pixels.shape[0] > size[1]:
            raise ValueError("the faces asked for do not fit in the frame")
        _paste(frame, pixels, alpha, y, x)
        top, right, bottom, left = (round(value * scale) for value in face.box)
        truths.append(Truth(int(face_px), (y + top, x + right, y + bottom, x + left)))
        x, row_height = x + pixels.shape[1] + 10, max(row_height, pixels.shape[0])
    return frame.astype(np.uint8), truths
