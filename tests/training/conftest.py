"""Fixtures for the training tests: a tiny synthetic data set and a model trained on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from synthetic_faces import write_class_folders  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """FER2013-style root: train/ and val/ with all seven classes, a few faces each."""
    root = tmp_path_factory.mktemp("fer_tiny")
    classes = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    write_class_folders(root / "train", {name: 12 for name in classes}, seed=1)
    write_class_folders(root / "val", {name: 4 for name in classes}, seed=2)
    return root


@pytest.fixture(scope="session")
def tiny_model(tiny_dataset, tmp_path_factory) -> Path:
    """A `default`-architecture model trained for one epoch on the tiny data set through the CLI."""
    from service.training.cli import main

    out = tmp_path_factory.mktemp("models") / "tiny"
    work = tmp_path_factory.mktemp("runs") / "tiny"
    code = main(["train", "--data", str(tiny_dataset), "--arch", "default", "--out", str(out),
                 "--epochs", "1", "--batch-size", "16", "--work-dir", str(work)])
    assert code == 0
    return out
