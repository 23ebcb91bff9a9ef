"""Labelled face images as the service would read them: its detector, then its crop.

Face data sets (GENKI-4K, wild-dev) ship faces already cut by someone else's detector and
framing; the service never classifies such a crop, it classifies what its own detector boxes,
framed by that detector's ``CropFraming`` (BlazeFace: upright by the eye keypoints). To train
and measure on what is served, each image is put in a frame the detector can search
(``canvas``), the detector runs on it, the face nearest the frame's centre is kept, and
``Pipeline.crops`` (the served code itself) cuts and converts it: gray by BT.601 luma from the
RGB frame, resized to the classifier's 48x48. Images whose face the detector misses are left
out and named, because the service would not count them either.

Two ways of making the frame (``CANVAS_MODES``):

* ``enlarge``: the image scaled so its longer side is ``ENLARGED_PX`` and centred on a
  ``CANVAS_PX`` square, edges replicated (as bench/crop_framing.py does with FER2013 faces);
* ``pad``: the image at its own size in the middle of a square three times its side, edges
  replicated (no resampling before the detector).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from service.training.datasets import FaceSet, canonical_class_name, image_files
from service.vision.boxes import FaceBox
from service.vision.pipeline import Pipeline

log = logging.getLogger(__name__)

CANVAS_MODES = ("enlarge", "pad")
# pad: on GENKI's hold-out BlazeFace finds the most faces this way with no resampling (the
# model card, "GENKI-4K through the service's crop", compares the modes)
DEFAULT_MODE = "pad"
CANVAS_PX = 320
ENLARGED_PX = 192
PAD_FACTOR = 3


@dataclass(frozen=True)
class _CropOnly:
    """What Pipeline.crops reads of a classifier: its input size (no model is loaded)."""

    input_size: tuple[int, int] = (48, 48)
    classes: tuple[str, ...] = ()


def read_rgb(path: Path) -> np.ndarray | None:
    """RGB uint8 HxWx3 of an image file (OpenCV reads BGR), or None when it cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def canvas(rgb: np.ndarray, mode: str) -> np.ndarray:
    """The frame the detector searches for the face of ``rgb`` (see the module docstring)."""
    height, width = rgb.shape[:2]
    if mode == "enlarge":
        scale = ENLARGED_PX / max(height, width)
        image = cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_CUBIC)
        side = CANVAS_PX
    elif mode == "pad":
        image, side = rgb, PAD_FACTOR * max(height, width)
    else:
        raise ValueError(f"unknown canvas mode {mode!r}; choose one of {', '.join(CANVAS_MODES)}")
    top, left = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
    return cv2.copyMakeBorder(image, top, side - image.shape[0] - top, left, side - image.shape[1] - left,
                              cv2.BORDER_REPLICATE)


def central_box(boxes: Sequence[FaceBox], height: int, width: int) -> FaceBox | None:
    """The box whose centre lies nearest the frame's centre (the image's own face), or None."""
    if not boxes:
        return None
    return min(boxes, key=lambda b: abs((b.left + b.right) / 2 - width / 2) + abs((b.top + b.bottom) / 2 - height / 2))


@dataclass
class Found:
    """The served crops of the faces found: gray uint8 [M, 48, 48] in input order, the index
    of each among the images given, and the indices of the images whose face was missed."""

    crops: np.ndarray
    indices: np.ndarray
    missed: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def served_crops(images: Sequence[np.ndarray], detector, mode: str = DEFAULT_MODE,
                 progress: Callable | None = None) -> Found:
    """Detect and crop every RGB image as the service would (see the module docstring)."""
    pipeline = Pipeline(detector, _CropOnly())  # type: ignore[arg-type]
    crops, indices, missed = [], [], []
    for index, rgb in enumerate(progress(images) if progress else images):
        frame = canvas(rgb, mode)
        box = central_box(detector.detect(frame), *frame.shape[:2])
        if box is None:
            missed.append(index)
            continue
        crops.append(pipeline.crops(frame, [box])[0])
        indices.append(index)
    stacked = np.stack(crops) if crops else np.empty((0, 48, 48), np.uint8)
    return Found(stacked, np.asarray(indices, np.int64), np.asarray(missed, np.int64))


def load_split_served(folder: str | Path, detector, classes: tuple[str, ...], mode: str = DEFAULT_MODE,
                      progress: Callable | None = None) -> tuple[FaceSet, list[str]]:
    """A folder-per-class split (e.g. wild-dev) through the served crop: the faces found as a
    FaceSet (its ``paths`` as datasets.load_split writes them) and the paths of the images
    missed or unreadable."""
    folder = Path(folder)
    items = [(path, classes.index(name)) for class_dir in sorted(p for p in folder.iterdir() if p.is_dir())
             if (name := canonical_class_name(class_dir.name)) in classes for path in image_files(class_dir)]
    names = [f"{folder.name}/{path.parent.name}/{path.name}" for path, _ in items]
    images = [read_rgb(path) for path, _ in items]
    readable = [i for i, image in enumerate(images) if image is not None]
    found = served_crops([images[i] for i in readable], detector, mode, progress)
    kept = [readable[i] for i in found.indices]
    faces = FaceSet(found.crops, np.array([items[i][1] for i in kept], np.int64), classes,
                    paths=[names[i] for i in kept])
    missed = sorted(set(names) - set(faces.paths))
    return faces, missed
