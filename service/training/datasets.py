"""Folder-per-class face data sets: loading, class-name mapping and stratified splits.

Two layouts are understood:

* FER2013 export: ``<root>/{train,val}/<class>/*.jpg`` with the canonical class names.
* AffectNet export: folders ``anger, contempt, disgust, fear, happy, neutral, sad, surprise``;
  synonyms are mapped onto the canonical names and classes the model does not know
  (``contempt``) are skipped with a warning.

Images are read as grayscale and resized to the model input size; files OpenCV cannot
decode are skipped and counted, because real exports always contain a few broken files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

CANONICAL_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
INPUT_SIZE: tuple[int, int] = (48, 48)

# Folder names used by other exports (AffectNet, RAF-DB, CK+ style) for the same emotions.
CLASS_SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
}

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}


@dataclass
class FaceSet:
    """Faces of one split: uint8 images [N, H, W] and integer labels indexing ``classes``."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    skipped_files: int = 0
    skipped_folders: list[str] = field(default_factory=list)
    # each face's file as "<split folder>/<class folder>/<file>", e.g. train/happy/x.jpg (the
    # key of FER+ votes); empty for faces not read from files
    paths: list[str] = field(default_factory=list)
    # soft training targets [N, C] (e.g. FER+ vote shares); None: one-hot of `labels`
    targets: np.ndarray | None = None
    # bool [N]: faces labelled only happy / not happy (GENKI's smiles), whose loss is on p(happy)
    # alone (happy_targets.py); their target's happy column says which. None: no such face
    happy_only: np.ndarray | None = None

    def counts(self) -> dict[str, int]:
        """Number of faces per class name, in class order."""
        per_class = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, per_class)}

    def subset(self, indices: np.ndarray) -> "FaceSet":
        """The faces at ``indices``, same classes."""
        paths = [self.paths[i] for i in indices] if self.paths else []
        targets = None if self.targets is None else self.targets[indices]
        happy_only = None if self.happy_only is None else self.happy_only[indices]
        return FaceSet(self.images[indices], self.labels[indices], self.classes, paths=paths, targets=targets,
                       happy_only=happy_only)

    def training_targets(self) -> np.ndarray:
        """float32 [N, C]: the soft targets when set, else the labels one-hot; with happy-only
        faces [N, C + 1], the last column marking them (happy_targets.py)."""
        if self.targets is not None:
            targets = self.targets.astype(np.float32)
        else:
            targets = np.eye(len(self.classes), dtype=np.float32)[self.labels]
        if self.happy_only is None:
            return targets
        return np.concatenate([targets, self.happy_only.astype(np.float32)[:, None]], axis=1)


def class_balance_weights(targets: np.ndarray, power: float) -> np.ndarray:
    """float32 [N] loss weight per face: its target's expected value of (mean class size /
    class size) ** power, scaled to a mean of 1. Power 0 weighs every face alike, 1 gives every
    class the same total weight; rare classes (FER2013's 436 disgust faces) count for more, so
    the network learns their look (bared teeth without a smile) instead of calling it happy."""
    if power < 0:
        raise ValueError(f"the class-balance power must be >= 0, got {power}")
    mass = targets.sum(axis=0)
    if np.any(mass <= 0):
        empty = np.flatnonzero(mass <= 0).tolist()
        raise ValueError(f"class balance needs training faces of every class; none for class index {empty}")
    per_class = (mass.mean() / mass) ** power
    weights = targets @ per_class
    return (weights / weights.mean()).astype(np.float32)


def canonical_class_name(folder_name: str) -> str | None:
    """Canonical emotion for a class folder name, or None when the emotion is unknown."""
    return CLASS_SYNONYMS.get(folder_name.strip().lower())


def parse_class_list(text: str | None) -> tuple[str, ...]:
    """Turn ``"happy,sad"`` into canonical names (model output order); None means all seven."""
    if not text:
        return CANONICAL_CLASSES
    names = [canonical_class_name(part) for part in text.split(",") if part.strip()]
    if None in names or len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"--classes needs at least two distinct known emotions, got {text!r}")
    return tuple(names)  # type: ignore[arg-type]


def read_face(path: Path, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray | None:
    """Grayscale uint8 image of ``size`` (height, width), or None when the file cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        return None
    if image.shape != size:
        # INTER_AREA averages pixels when shrinking, which avoids aliasing on large crops.
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return image


def image_files(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted so loading order is reproducible."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_split(
    folder: str | Path, classes: tuple[str, ...] = CANONICAL_CLASSES, size: tuple[int, int] = INPUT_SIZE
) -> FaceSet:
    """Load every class folder under ``folder`` whose emotion is in ``classes``.

    Folders mapping to no known emotion, or to one outside ``classes``, are skipped with a warning.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder not found: {folder}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    paths: list[str] = []
    faces = FaceSet(np.empty((0, *size), np.uint8), np.empty(0, np.int64), classes)
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = canonical_class_name(class_dir.name)
        if name not in classes:
            log.warning("skipping class folder %s: not one of %s", class_dir.name, ", ".join(classes))
            faces.skipped_folders.append(class_dir.name)
            continue
        for path in image_files(class_dir):
            image = read_face(path, size)
            if image is None:
                faces.skipped_files += 1
                continue
            images.append(image)
            labels.append(classes.index(name))
            paths.append(f"{folder.name}/{class_dir.name}/{path.name}")
    if faces.skipped_files:
        log.warning("skipped %d unreadable image files under %s", faces.skipped_files, folder)
    if images:
        faces.images = np.stack(images)
        faces.labels = np.asarray(labels, np.int64)
        faces.paths = paths
    return faces


def split_folders(data_dir: str | Path) -> tuple[Path, Path | None]:
    """(training folder, validation folder or None) for a data set root or a bare split folder."""
    root = Path(data_dir)
    train = root / "train" if (root / "train").is_dir() else root
    val = root / "val" if (root / "val").is_dir() else None
    return train, val


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) holding out ``val_fraction`` of every class (at least one face each).

    Classes with a single face stay entirely in train.
    """
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(members) * val_fraction)) if len(members) > 1 else 0
        n_val = min(max(n_val, 1 if len(members) > 1 else 0), len(members) - 1)
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts))


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """K (train, test) index pairs; each class is dealt round-robin over the folds after shuffling."""
    if k < 2:
        raise ValueError("cross-validation needs k >= 2")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold_of[members] = np.arange(len(members)) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]
