"""Composed videos for the edge agent's tests and benchmark: real faces (the sample photos and
scikit-image's astronaut) walk, grow and cross one another over a plain background, and the true
face box of every person in every frame is known. So "how many people" has an answer.

    scene = crossing_scene(people=4, seconds=12)
    truth = write_video(path, scene, faces(photos), size=(640, 360), fps=10)

The faces are cut from the photos around the boxes the service's HOG detector finds there
(with a feathered edge, so that no sprite border looks like a face part), once per process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# a face cut with this much of its box around it on each side (hair, ears, a little background)
CUT_MARGIN = 0.45
BASE_WIDTH = 640  # scenes are laid out for this frame width and scaled to the size asked for


@dataclass(frozen=True)
class Face:
    """A cut-out face: RGB pixels, a feathered alpha mask, and where the face box lies in it."""

    pixels: np.ndarray
    alpha: np.ndarray
    box: tuple[int, int, int, int]  # top, right, bottom, left in the cut's pixels


@dataclass(frozen=True)
class Walk:
    """One person: visible from `enter` to `leave` seconds, the face's centre moving in a line
    from `start` to `end` (fractions of the frame) while its height goes from `height` to
    `final_height` pixels (at BASE_WIDTH). With an `episode` (face, from, to), that face is shown
    instead of `face` from share `from` to share `to` of the time in view: a change of expression
    for part of the walk (e.g. a non-smiling face that smiles for a third of it)."""

    face: int
    enter: float
    leave: float
    start: tuple[float, float]
    end: tuple[float, float]
    height: float
    final_height: float
    episode: tuple[int, float, float] | None = None

    def face_at(self, seconds: float) -> int:
        """Which face is shown at a moment in view."""
        if self.episode is None:
            return self.face
        face, start, end = self.episode
        share = (seconds - self.enter) / (self.leave - self.enter)
        return face if start <= share < end else self.face

    def at(self, seconds: float) -> tuple[float, float, float] | None:
        """(x, y, face height) at a moment, None while the person is not in the scene."""
        if not self.enter <= seconds < self.leave:
            return None
        share = (seconds - self.enter) / (self.leave - self.enter)
        x = self.start[0] + share * (self.end[0] - self.start[0])
        y = self.start[1] + share * (self.end[1] - self.start[1])
        return x, y, self.height + share * (self.final_height - self.height)


@dataclass(frozen=True)
class Scene:
    walks: tuple[Walk, ...]
    seconds: float

    @property
    def people(self) -> int:
        return len(self.walks)


def crossing_scene(people: int = 4, seconds: float = 12.0) -> Scene:
    """People in pairs on two rows: in each pair one walks left to right and the other right to
    left, so that they meet and cross mid-frame (the nearer one hides the other for a moment);
    each grows by a third on the way, as if walking towards the camera. Later pairs enter later,
    and everyone is in view for about 60% of the scene."""
    walks = []
    for person in range(people):
        pair, second = divmod(person, 2)
        row = 0.32 if pair % 2 == 0 else 0.68
        enter = seconds * 0.4 * pair / max(1, (people - 1) // 2)
        left, right = (0.12, 0.88) if not second else (0.88, 0.12)
        walks.append(Walk(face=person, enter=enter, leave=enter + seconds * 0.6,
                          start=(left, row - 0.04 * second), end=(right, row + 0.04 * second),
                          height=72 + 4 * person, final_height=(72 + 4 * person) * 1.3))
    return Scene(tuple(walks), seconds)


@lru_cache(maxsize=4)
def faces(photos: tuple[Path, ...] = ()) -> tuple[Face, ...]:
    """scikit-image's astronaut, then every face HOG finds in `photos`, as cut-outs."""
    from skimage.data import astronaut

    from service.vision.decode import decode_image

    images = [astronaut(), *(decode_image(Path(photo).read_bytes(), max_pixels=50_000_000) for photo in photos)]
    return tuple(cut for image in images for cut in _cut_faces(image))


def _cut_faces(image: np.ndarray) -> Iterator[Face]:
    from service.vision.detectors import build_detector

    for box in build_detector("hog", min_face_px=60, max_width=1600).detect(image):
        margin = int(CUT_MARGIN * box.height)
        top, left = max(0, box.top - margin), max(0, box.left - margin)
        bottom, right = min(image.shape[0], box.bottom + margin), min(image.shape[1], box.right + margin)
        pixels = np.ascontiguousarray(image[top:bottom, left:right])
        yield Face(pixels, _feathered(pixels.shape[:2], margin),
                   (box.top - top, box.right - left, box.bottom - top, box.left - left))


def _feathered(shape: tuple[int, int], margin: int) -> np.ndarray:
    """An ellipse of 1s fading to 0 over the outer half of the margin."""
    height, width = shape
    y, x = np.ogrid[:height, :width]
    distance = np.sqrt(((y - height / 2) / (height / 2)) ** 2 + ((x - width / 2) / (width / 2)) ** 2)
    fade = max(1e-3, margin / max(height, width))
    return np.clip((1 - distance) / fade, 0, 1).astype(np.float32)


def background(size: tuple[int, int]) -> np.ndarray:
    """A plain, slightly noisy gradient (no face in it), the same for every frame."""
    width, height = size
    rng = np.random.default_rng(7)
    ramp = np.linspace(70, 150, width, dtype=np.float32)[np.newaxis, :, np.newaxis]
    tint = np.array([1.0, 0.95, 0.85], np.float32)
    base = np.broadcast_to(ramp * tint, (height, width, 3)) + rng.normal(0, 4, (height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def render(scene: Scene, cutouts: Sequence[Face], size: tuple[int, int], seconds: float,
           backdrop: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[int, int, int, int]]]:
    """The RGB frame at `seconds` and each visible person's true face box (top, right, bottom,
    left). People are drawn in order, so later ones pass in front of earlier ones."""
    import cv2

    frame = backdrop.astype(np.float32)
    truth = {}
    unit = size[0] / BASE_WIDTH
    for person, walk in enumerate(scene.walks):
        where = walk.at(seconds)
        if where is None:
            continue
        face = cutouts[walk.face_at(seconds) % len(cutouts)]
        scale = where[2] * unit / (face.box[2] - face.box[0])
        pixels = cv2.resize(face.pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(face.alpha, (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_LINEAR)
        box = [round(value * scale) for value in face.box]
        centre_x, centre_y = where[0] * size[0], where[1] * size[1]
        left = round(centre_x - (box[1] + box[3]) / 2)
        top = round(centre_y - (box[0] + box[2]) / 2)
        _paste(frame, pixels, alpha, top, left)
        truth[person] = (top + box[0], left + box[1], top + box[2], left + box[3])
    return frame.astype(np.uint8), truth


def _paste(frame: np.ndarray, pixels: np.ndarray, alpha: np.ndarray, top: int, left: int) -> None:
    """Blend `pixels` into `frame` at (top, left), clipped to the frame."""
    height, width = frame.shape[:2]
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(height, top + pixels.shape[0]), min(width, left + pixels.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    part = pixels[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
    weight = alpha[y0 - top:y1 - top, x0 - left:x1 - left, np.newaxis]
    frame[y0:y1, x0:x1] = frame[y0:y1, x0:x1] * (1 - weight) + part * weight


def write_video(path: Path, scene: Scene, cutouts: Sequence[Face], size: tuple[int, int] = (640, 360),
                fps: float = 10.0) -> list[dict[int, tuple[int, int, int, int]]]:
    """Write the scene as a Motion-JPEG AVI (OpenCV's own encoder: no codec to install) and
    answer the true face boxes of each frame."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    backdrop, truths = background(size), []
    try:
        for number in range(round(scene.seconds * fps)):
            frame, truth = render(scene, cutouts, size, number / fps, backdrop)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            truths.append(truth)
    finally:
        writer.release()
    return truths
