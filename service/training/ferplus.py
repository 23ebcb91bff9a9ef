"""FER+ crowd votes as soft training targets (Barsoum et al. 2016, "label distribution").

FER+ gives each FER2013 face ten annotator votes over neutral, happiness, surprise, sadness,
anger, disgust, fear, contempt, unknown and not-a-face (NF). A face's target is the share of
its votes that each of our seven classes got, so a face that four annotators call neutral and
six sad teaches "mostly sad, partly neutral" instead of FER2013's single noisy label.

Choices (the model card says why):
- contempt has no class here; its votes are dropped and the rest renormalised, because
  contempt is rare (under 1% of votes) and closest to no single one of our classes;
- a class that got a single vote is taken for annotator noise and dropped when the face
  has other votes (FER+'s own "remove outlier votes" step);
- a face whose unknown + NF votes are at least half its votes is left out of training
  (not a usable face), as is one left with fewer than MIN_EMOTION_VOTES emotion votes;
- a face without a FER+ row keeps its folder label, as a one-hot target;
- with a votes weight w < 1 the target is w x the vote shares + (1 - w) x the folder label,
  as if FER2013's own annotator had as many votes as FER+'s ten together when w = 0.5.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")
# FER+ column -> our class name; contempt, unknown and NF have none
TO_CLASS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
            "anger": "angry", "disgust": "disgust", "fear": "fear"}
NOT_A_FACE = ("unknown", "NF")
MIN_EMOTION_VOTES = 2


@dataclass(frozen=True)
class SoftTargets:
    """Training targets [N, C] for a face set, which faces to keep, and where each came from."""

    targets: np.ndarray
    keep: np.ndarray
    from_votes: int
    from_folder: int
    dropped: int

    def summary(self) -> dict[str, int]:
        return {"from_ferplus_votes": self.from_votes, "from_folder_label": self.from_folder,
                "dropped_not_a_face_or_too_few_votes": self.dropped}


def read_votes(csv_path: str | Path) -> dict[str, np.ndarray]:
    """FER+ votes by image path relative to the data set root (e.g. train/happy/x.jpg)."""
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("path", *VOTE_COLUMNS) if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{csv_path} lacks the FER+ columns {', '.join(missing)}")
        return {row["path"]: np.array([float(row[c]) for c in VOTE_COLUMNS]) for row in reader}


def vote_distribution(votes: np.ndarray, classes: tuple[str, ...]) -> np.ndarray | None:
    """Target distribution over `classes` for one face's ten FER+ vote counts, or None when
    the face is not usable (see the module doc for the rules)."""
    votes = np.asarray(votes, dtype=np.float64)
    by_name = dict(zip(VOTE_COLUMNS, votes))
    if sum(by_name[name] for name in NOT_A_FACE) * 2 >= votes.sum():
        return None
    emotion = np.array([sum(v for column, v in by_name.items() if TO_CLASS.get(column) == name)
                        for name in classes])
    if (emotion > 1).any():
        emotion[emotion == 1] = 0  # a lone vote beside real agreement is noise
    if emotion.sum() < MIN_EMOTION_VOTES:
        return None
    return emotion / emotion.sum()


def soft_targets(paths: list[str], labels: np.ndarray, classes: tuple[str, ...],
                 votes: dict[str, np.ndarray], votes_weight: float = 1.0) -> SoftTargets:
    """Targets for faces with these relative paths and folder labels: FER+ vote distributions
    (mixed with the folder label by `votes_weight`) where a row exists, the folder label
    one-hot where none does."""
    if not 0.0 <= votes_weight <= 1.0:
        raise ValueError(f"the votes weight must lie in [0, 1], got {votes_weight}")
    targets = np.zeros((len(paths), len(classes)), np.float32)
    keep = np.ones(len(paths), bool)
    counts = {"votes": 0, "folder": 0, "dropped": 0}
    for index, (path, label) in enumerate(zip(paths, labels)):
        row = votes.get(path)
        if row is None:
            targets[index, label], counts["folder"] = 1.0, counts["folder"] + 1
            continue
        distribution = vote_distribution(row, classes)
        if distribution is None:
            keep[index], counts["dropped"] = False, counts["dropped"] + 1
            continue
        targets[index] = votes_weight * distribution
        targets[index, label] += 1.0 - votes_weight
        counts["votes"] += 1
    return SoftTargets(targets, keep, counts["votes"], counts["folder"], counts["dropped"])


def majority_labels(paths: list[str], classes: tuple[str, ...], votes: dict[str, np.ndarray]) -> np.ndarray:
    """FER+ majority class of each face (-1 where the face has no row, is not usable, or the
    top classes tie): the label set the model card reports beside FER2013's."""
    labels = np.full(len(paths), -1, np.int64)
    for index, path in enumerate(paths):
        row = votes.get(path)
        distribution = None if row is None else vote_distribution(row, classes)
        if distribution is not None and np.sum(distribution == distribution.max()) == 1:
            labels[index] = int(distribution.argmax())
    return labels
