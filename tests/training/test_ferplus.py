"""FER+ votes as soft targets: votes to distributions, the fallback to folder labels, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from service.training import ferplus
from service.training.datasets import CANONICAL_CLASSES, load_split
from synthetic_faces import SHARED_FER

CLASSES = CANONICAL_CLASSES  # angry, disgust, fear, happy, neutral, sad, surprise
HEADER = "path," + ",".join(ferplus.VOTE_COLUMNS)


def votes(**counts: int) -> np.ndarray:
    return np.array([counts.get(column, 0) for column in ferplus.VOTE_COLUMNS], float)


def test_votes_become_shares_of_our_classes():
    target = ferplus.vote_distribution(votes(neutral=4, sadness=6), CLASSES)
    assert target.tolist() == pytest.approx([0, 0, 0, 0, 0.4, 0.6, 0])


def test_a_lone_vote_beside_agreement_is_dropped_and_contempt_is_ignored():
    target = ferplus.vote_distribution(votes(happiness=7, surprise=1, contempt=2), CLASSES)
    assert target.tolist() == pytest.approx([0, 0, 0, 1, 0, 0, 0])


def test_faces_called_no_face_or_without_enough_emotion_votes_are_unusable():
    assert ferplus.vote_distribution(votes(NF=5, neutral=5), CLASSES) is None
    assert ferplus.vote_distribution(votes(unknown=3, NF=2, anger=5), CLASSES) is None
    assert ferplus.vote_distribution(votes(contempt=9, anger=1), CLASSES) is None


def test_soft_targets_fall_back_to_the_folder_label_and_drop_unusable_faces():
    table = {"train/sad/a.jpg": votes(neutral=4, sadness=6), "train/angry/b.jpg": votes(NF=10)}
    paths = ["train/sad/a.jpg", "train/angry/b.jpg", "train/happy/c.jpg"]
    labels = np.array([CLASSES.index("sad"), CLASSES.index("angry"), CLASSES.index("happy")])
    soft = ferplus.soft_targets(paths, labels, CLASSES, table)
    assert soft.keep.tolist() == [True, False, True]
    assert soft.targets[0].tolist() == pytest.approx([0, 0, 0, 0, 0.4, 0.6, 0])
    assert soft.targets[2].tolist() == [0, 0, 0, 1, 0, 0, 0]
    assert (soft.from_votes, soft.from_folder, soft.dropped) == (1, 1, 1)


def test_majority_labels_leave_out_ties_and_unusable_faces():
    table = {"a": votes(happiness=8, neutral=2), "b": votes(anger=5, disgust=5), "c": votes(NF=9, fear=1)}
    labels = ferplus.majority_labels(["a", "b", "c", "d"], CLASSES, table)
    assert labels.tolist() == [CLASSES.index("happy"), -1, -1, -1]


def test_read_votes_refuses_a_file_without_the_ferplus_columns(tmp_path):
    bad = tmp_path / "votes.csv"
    bad.write_text("path,neutral,happiness\nx.jpg,1,9\n")
    with pytest.raises(ValueError, match="lacks the FER\\+ columns"):
        ferplus.read_votes(bad)


def test_read_votes_keys_rows_by_relative_path(tmp_path):
    table = tmp_path / "votes.csv"
    table.write_text(HEADER + "\ntrain/happy/x.jpg,0,10,0,0,0,0,0,0,0,0\n")
    assert ferplus.read_votes(table)["train/happy/x.jpg"][1] == 10


def test_load_split_records_the_paths_the_votes_are_keyed_by(tmp_path):
    import cv2

    for name in ("happy", "sad"):
        (tmp_path / "train" / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "train" / name / f"{name}1.jpg"), np.full((48, 48), 100, np.uint8))
    faces = load_split(tmp_path / "train", CLASSES)
    assert faces.paths == ["train/happy/happy1.jpg", "train/sad/sad1.jpg"]
    assert faces.subset(np.array([1])).paths == ["train/sad/sad1.jpg"]


def test_the_shared_votes_cover_the_shared_fer2013_files():
    csv_path = SHARED_FER / "ferplus_votes.csv"
    if not csv_path.exists():
        pytest.skip(f"{csv_path} not found (only on the project's machines)")
    faces = load_split(SHARED_FER / "val", CLASSES)
    soft = ferplus.soft_targets(faces.paths, faces.labels, CLASSES, ferplus.read_votes(csv_path))
    assert soft.from_votes > 0.99 * len(faces.labels) - soft.dropped
    assert np.allclose(soft.targets[soft.keep].sum(axis=1), 1.0)


def test_votes_weight_mixes_the_vote_shares_with_the_folder_label():
    table = {"a": votes(neutral=4, sadness=6)}
    soft = ferplus.soft_targets(["a"], np.array([CLASSES.index("sad")]), CLASSES, table, votes_weight=0.5)
    assert soft.targets[0].tolist() == pytest.approx([0, 0, 0, 0, 0.2, 0.8, 0])
    with pytest.raises(ValueError, match="votes weight"):
        ferplus.soft_targets(["a"], np.array([0]), CLASSES, table, votes_weight=1.5)
