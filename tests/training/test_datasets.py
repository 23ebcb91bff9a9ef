"""Loader: FER2013 and AffectNet layouts, synonyms, unknown classes, broken and odd-sized files."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from service.training import datasets
from synthetic_faces import SHARED_FER, write_class_folders


def test_fer_layout_loads_every_class_in_canonical_order(tmp_path):
    write_class_folders(tmp_path, {"happy": 3, "sad": 2, "angry": 1})
    faces = datasets.load_split(tmp_path)
    assert faces.images.shape == (6, 48, 48) and faces.images.dtype == np.uint8
    assert faces.counts() == {"angry": 1, "disgust": 0, "fear": 0, "happy": 3, "neutral": 0, "sad": 2, "surprise": 0}
    assert faces.skipped_files == 0 and faces.skipped_folders == []


def test_affectnet_layout_maps_synonyms_and_skips_unknown_classes(tmp_path, caplog):
    write_class_folders(tmp_path, {"anger": 2, "contempt": 3, "happy": 1, "sad": 1, "surprise": 1})
    with caplog.at_level(logging.WARNING):
        faces = datasets.load_split(tmp_path)
    assert faces.counts()["angry"] == 2
    assert sum(faces.counts().values()) == 5  # the three contempt faces are not loaded
    assert faces.skipped_folders == ["contempt"]
    assert "contempt" in caplog.text


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    write_class_folders(tmp_path, {"happy": 2})
    (tmp_path / "happy" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "happy" / "notes.txt").write_text("ignored: not an image suffix")
    faces = datasets.load_split(tmp_path)
    assert len(faces.labels) == 2
    assert faces.skipped_files == 1


def test_other_sizes_are_resized_to_48x48(tmp_path):
    write_class_folders(tmp_path, {"neutral": 2}, size=96)
    faces = datasets.load_split(tmp_path)
    assert faces.images.shape == (2, 48, 48)


def test_class_subset_keeps_only_requested_classes_in_given_order(tmp_path):
    write_class_folders(tmp_path, {"happy": 2, "sad": 3, "fear": 1})
    faces = datasets.load_split(tmp_path, classes=datasets.parse_class_list("sad,happy"))
    assert faces.classes == ("sad", "happy")
    assert faces.counts() == {"sad": 3, "happy": 2}
    assert faces.skipped_folders == ["fear"]


@pytest.mark.parametrize("text", ["happy", "happy,happy", "happy,contempt"])
def test_bad_class_lists_are_refused(text):
    with pytest.raises(ValueError):
        datasets.parse_class_list(text)


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    train, val = datasets.stratified_split(labels, 0.2, seed=0)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]


def test_stratified_folds_partition_every_class():
    labels = np.repeat(np.arange(2), [9, 6])
    folds = datasets.stratified_folds(labels, 3, seed=0)
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out.tolist()) == list(range(15))
    assert all(np.bincount(labels[test]).tolist() == [3, 2] for _, test in folds)


def test_split_folders_finds_train_and_val(tmp_path):
    (tmp_path / "train").mkdir()
    assert datasets.split_folders(tmp_path) == (tmp_path / "train", None)
    (tmp_path / "val").mkdir()
    assert datasets.split_folders(tmp_path) == (tmp_path / "train", tmp_path / "val")
    assert datasets.split_folders(tmp_path / "train") == (tmp_path / "train", None)


@pytest.mark.skipif(not (SHARED_FER / "val").is_dir(), reason="FER2013 not present in ../shared/datasets/fer2013")
def test_shared_fer2013_val_has_all_classes():
    faces = datasets.load_split(SHARED_FER / "val")
    assert len(faces.labels) == 3589
    assert faces.counts()["happy"] == 895
