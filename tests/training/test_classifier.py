"""The service's classifier: same decisions as the Keras model, batch shapes, folder loading."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from service.training.architectures import load_saved_model  # noqa: E402
from service.vision.classifier import DEFAULT_MODEL_DIR, EmotionClassifier  # noqa: E402


def keras_probabilities(model_dir, faces: np.ndarray) -> np.ndarray:
    model = load_saved_model(model_dir / "model.keras")
    return model(faces[..., np.newaxis].astype(np.float32), training=False).numpy()


def test_classifier_agrees_with_keras_model(tiny_model):
    faces = np.random.default_rng(0).integers(0, 256, (32, 48, 48), dtype=np.uint8)
    classifier = EmotionClassifier.load(tiny_model)
    ours, reference = classifier.predict_proba(faces), keras_probabilities(tiny_model, faces)
    assert ours.dtype == np.float32 and ours.shape == (32, 7)
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    assert (ours.argmax(axis=1) == reference.argmax(axis=1)).all()


def test_conversion_at_load_when_tflite_file_is_missing(tiny_model, tmp_path):
    for name in ("model.keras", "metadata.json"):
        (tmp_path / name).write_bytes((tiny_model / name).read_bytes())
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    converted = EmotionClassifier.load(tmp_path).predict_proba(faces)
    np.testing.assert_allclose(converted, EmotionClassifier.load(tiny_model).predict_proba(faces), atol=1e-6)


def test_empty_batches_and_changing_batch_sizes(tiny_model):
    classifier = EmotionClassifier.load(tiny_model)
    assert classifier.predict_proba(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    faces = np.random.default_rng(2).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    batch = classifier.predict_proba(faces)
    singles = np.concatenate([classifier.predict_proba(faces[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_wrong_face_size_is_refused(tiny_model):
    with pytest.raises(ValueError):
        EmotionClassifier.load(tiny_model).predict_proba(np.zeros((1, 64, 64), np.uint8))


def test_identity_fields_come_from_metadata(tiny_model):
    classifier = EmotionClassifier.load(tiny_model)
    assert classifier.name == "tiny" and classifier.input_size == (48, 48)
    assert classifier.classes == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "metadata.json").exists(), reason="no committed models/default yet")
def test_committed_default_model_loads_and_predicts():
    classifier = EmotionClassifier.load(DEFAULT_MODEL_DIR)
    probs = classifier.predict_proba(np.full((3, *classifier.input_size), 128, np.uint8))
    assert probs.shape == (3, len(classifier.classes))
    assert probs.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-4)
