"""Architectures: the paper's exact size, and the default model's input contract and budget."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from service.training.architectures import ARCHITECTURES, build_model, load_saved_model, with_mirror_average  # noqa: E402


def test_paper_architecture_has_the_papers_parameter_count():
    assert build_model("paper", 7).count_params() == 363_655


def test_paper_architecture_layer_sequence():
    kinds = [type(layer).__name__ for layer in build_model("paper", 7).layers]
    assert kinds == ["InputLayer", "Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D",
                     "MaxPooling2D", "Flatten", "Dense", "Dense", "Dense"]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_models_take_raw_pixels_and_return_probabilities(name):
    model = build_model(name, 7)
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)
    assert isinstance(model.layers[1], keras.layers.Rescaling) and not model.layers[1].weights
    probs = model(np.full((2, 48, 48, 1), 255.0, np.float32), training=False).numpy()
    assert probs.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_compact_architecture_reproduces_the_first_default_model():
    # The first committed default (62.6% on val, described in models/README.md) had exactly this size.
    assert build_model("compact", 7).count_params() == 356_903


def test_default_model_stays_small():
    # Under a million parameters keeps the committed files at a few MB and inference well under 1 ms per face.
    assert build_model("default", 7).count_params() < 1_000_000


def test_unknown_architecture_is_refused():
    with pytest.raises(KeyError):
        build_model("resnet152", 7)


def test_mirror_average_scores_a_face_and_its_mirror_alike(tmp_path):
    base = build_model("default", 7)
    model = with_mirror_average(base)
    faces = np.random.default_rng(3).uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
    probs, mirrored = model(faces, training=False).numpy(), model(faces[:, :, ::-1], training=False).numpy()
    np.testing.assert_allclose(probs, mirrored, atol=1e-6)
    # ...and is the mean of the bare model's two views, with no extra parameters.
    views = (base(faces, training=False).numpy() + base(faces[:, :, ::-1], training=False).numpy()) / 2
    np.testing.assert_allclose(probs, views, atol=1e-6)
    assert model.count_params() == base.count_params()
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(load_saved_model(tmp_path / "m.keras")(faces).numpy(), probs, atol=1e-6)
