"""GENKI-4K's smile / non-smile faces: a fixed hold-out, and the faces as the service reads them.

Layout: ``<root>/{smile,non_smile}/*.jpg`` (64x64 colour crops; ../shared/datasets/genki4k-train).

The hold-out (``holdout_names``) is a fixed fifth of each label. Exact byte duplicates (the
source repeats some photos) are one group and always land on the same side, so no face is
scored on a copy of itself that training saw. Which groups are held out depends only on
their content: groups are ordered by SHA-256 of a fixed salt and their content hash, and taken
in that order until the label's share is reached. The result does not depend on file order,
file names, library versions or a random generator.
``HOLDOUT_FILE`` is the committed list it produced for the 2,800 shared files; the model
card's GENKI figures are measured on it, and a test checks that the function still gives it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.training.datasets import image_files
from service.training.served_crops import DEFAULT_MODE, read_rgb, served_crops

log = logging.getLogger(__name__)

LABEL_FOLDERS: dict[str, bool] = {"smile": True, "non_smile": False}
HOLDOUT_FRACTION = 0.2
SPLIT_SALT = "genki4k-holdout-1"
HOLDOUT_FILE = Path(__file__).with_name("genki_holdout.txt")
PARTS = ("train", "holdout", "all")


@dataclass(frozen=True)
class GenkiFile:
    """One image: its path under the root (``smile/file0001.jpg``), its label, its content hash."""

    name: str
    smile: bool
    digest: str


def list_files(root: str | Path) -> list[GenkiFile]:
    """Every image under the label folders, in name order, with its SHA-256."""
    root = Path(root)
    if not all((root / folder).is_dir() for folder in LABEL_FOLDERS):
        raise FileNotFoundError(f"{root} is not a GENKI folder: it needs {' and '.join(LABEL_FOLDERS)}/ inside")
    return [GenkiFile(f"{folder}/{path.name}", smile, hashlib.sha256(path.read_bytes()).hexdigest())
            for folder, smile in LABEL_FOLDERS.items() for path in image_files(root / folder)]


def holdout_names(files: list[GenkiFile], fraction: float = HOLDOUT_FRACTION, salt: str = SPLIT_SALT) -> set[str]:
    """Names of the held-out files: per label, whole duplicate groups in salted-hash order until
    ``round(fraction x the label's files)`` is reached. A group whose copies carry both labels
    counts under its majority label (ties: smile)."""
    groups: dict[str, list[GenkiFile]] = defaultdict(list)
    for item in files:
        groups[item.digest].append(item)
    by_label: dict[bool, list[str]] = defaultdict(list)
    for digest, members in groups.items():
        by_label[2 * sum(m.smile for m in members) >= len(members)].append(digest)
    held: set[str] = set()
    for label, digests in by_label.items():
        quota = round(fraction * sum(len(groups[d]) for d in digests))
        taken = 0
        for digest in sorted(digests, key=lambda d: hashlib.sha256(f"{salt}:{d}".encode()).hexdigest()):
            if taken >= quota:
                break
            held.update(m.name for m in groups[digest])
            taken += len(groups[digest])
    return held


def read_holdout_file(path: Path = HOLDOUT_FILE) -> set[str]:
    """The committed hold-out names (one per line; '#' lines are comments)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def select(files: list[GenkiFile], part: str, holdout: set[str]) -> list[GenkiFile]:
    """The files of ``part``: train (not held out), holdout, or all."""
    if part not in PARTS:
        raise ValueError(f"unknown GENKI part {part!r}; choose one of {', '.join(PARTS)}")
    if part == "all":
        return list(files)
    return [f for f in files if (f.name in holdout) == (part == "holdout")]


@dataclass
class GenkiFaces:
    """Faces of one part through the served crop: gray uint8 crops [M, 48, 48], smile labels
    [M], their names, and the names of the images whose face the detector missed (or that
    could not be decoded)."""

    crops: np.ndarray
    smile: np.ndarray
    names: list[str]
    missed: list[str]

    def summary(self) -> dict:
        """Images and faces found, overall and per label (a detector that misses smiles more
        often than other faces would bias the index before the classifier sees a face)."""
        missed_smile = sum(name.startswith("smile/") for name in self.missed)
        found_smile = int(self.smile.sum())
        return {"images": len(self.names) + len(self.missed), "found": len(self.names),
                "smile": {"images": found_smile + missed_smile, "found": found_smile},
                "non_smile": {"images": len(self.names) - found_smile + len(self.missed) - missed_smile,
                              "found": len(self.names) - found_smile}}


def load_genki(root: str | Path, part: str, detector, mode: str = DEFAULT_MODE, holdout: set[str] | None = None,
               progress=None) -> GenkiFaces:
    """The faces of ``part`` read through ``detector`` and the served crop (served_crops.py);
    ``holdout`` defaults to the committed list."""
    root = Path(root)
    chosen = select(list_files(root), part, read_holdout_file() if holdout is None else holdout)
    images = [read_rgb(root / item.name) for item in chosen]
    readable = [i for i, image in enumerate(images) if image is not None]
    found = served_crops([images[i] for i in readable], detector, mode, progress)
    kept = [chosen[readable[i]] for i in found.indices]
    kept_names = {item.name for item in kept}
    faces = GenkiFaces(found.crops, np.array([item.smile for item in kept], bool), [item.name for item in kept],
                       [item.name for item in chosen if item.name not in kept_names])
    log.info("GENKI %s: %s", part, faces.summary())
    return faces
