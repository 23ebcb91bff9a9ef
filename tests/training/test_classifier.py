"""The service's classifier: the Keras model's decisions from a quantised file run by LiteRT (the
same as TensorFlow's own interpreter gives), batch shapes, folder loading."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from service.training.architectures import load_saved_model  # noqa: E402
from service.vision.classifier import DEFAULT_MODEL_DIR, EmotionClassifier  # noqa: E402
from synthetic_faces import SHARED_FER  # noqa: E402

FER_VAL = SHARED_FER / "val"


def keras_probabilities(model_dir, faces: np.ndarray) -> np.ndarray:
    model = load_saved_model(model_dir / "model.keras")
    return model(faces[..., np.newaxis].astype(np.float32), training=False).numpy()


def clear_decisions(probabilities: np.ndarray, margin: float) -> np.ndarray:
    """Faces whose top class leads the runner-up by more than ``margin``."""
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0] > margin


def test_classifier_agrees_with_keras_model(tiny_model):
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    classifier = EmotionClassifier.load(tiny_model)
    ours, reference = classifier.predict_proba(faces), keras_probabilities(tiny_model, faces)
    assert ours.dtype == np.float32 and ours.shape == (64, 7)
    # int8 weights move each probability a little; a decision may flip only on a near tie
    np.testing.assert_allclose(ours, reference, atol=0.03)
    clear = clear_decisions(reference, margin=0.06)
    assert (ours.argmax(axis=1)[clear] == reference.argmax(axis=1)[clear]).all()


def test_tflite_file_is_quantised(tiny_model):
    keras_bytes = (tiny_model / "model.keras").stat().st_size
    # 981,735 float32 weights are ~3.9 MB in the Keras file; as int8 a quarter of that
    assert (tiny_model / "model.tflite").stat().st_size < keras_bytes / 3


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "metadata.json").exists(), reason="no committed models/default yet")
@pytest.mark.skipif(not FER_VAL.is_dir(), reason=f"{FER_VAL} is absent (FER2013 is not shipped with the code)")
def test_committed_model_decides_like_its_keras_model_on_real_faces():
    faces = first_faces_per_class(FER_VAL, per_class=40)
    classifier = EmotionClassifier.load(DEFAULT_MODEL_DIR)
    ours = classifier.predict_proba(faces)
    reference = classifier.postprocess(keras_probabilities(DEFAULT_MODEL_DIR, classifier.prepare(faces)))
    agreement = np.mean(ours.argmax(axis=1) == reference.argmax(axis=1))
    assert agreement >= 0.98, f"only {agreement:.1%} of real faces got the Keras model's class"
    assert np.abs(ours - reference).mean() < 0.01


def first_faces_per_class(split, per_class: int) -> np.ndarray:
    """uint8 [N, 48, 48]: the first ``per_class`` faces of every class folder of a FER2013 split."""
    from service.training.datasets import CANONICAL_CLASSES, load_split

    faces = load_split(split, CANONICAL_CLASSES)
    picked = [np.flatnonzero(faces.labels == label)[:per_class] for label in range(len(CANONICAL_CLASSES))]
    return faces.images[np.concatenate(picked)]


def tensorflow_interpreter_probabilities(model_dir, faces: np.ndarray) -> np.ndarray:
    """The folder's model.tflite through TensorFlow's tf.lite.Interpreter, which the service
    ran before LiteRT's: one batch, one thread, as EmotionClassifier runs it."""
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns that LiteRT replaces it
        interpreter = tf.lite.Interpreter(model_content=(model_dir / "model.tflite").read_bytes(), num_threads=1)
    entry, exit_ = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    interpreter.resize_tensor_input(entry, [len(faces), 48, 48, 1])
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry, faces[..., np.newaxis].astype(np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(exit_)


def committed_model_faces() -> np.ndarray:
    """Real FER2013 val faces where present, random ones always."""
    faces = [np.random.default_rng(3).integers(0, 256, (64, 48, 48), dtype=np.uint8)]
    if FER_VAL.is_dir():
        faces.append(first_faces_per_class(FER_VAL, per_class=40))
    return np.concatenate(faces)


@pytest.mark.parametrize("name", ["default", "paper"])
def test_litert_decides_exactly_as_tensorflows_interpreter_on_the_committed_models(name):
    model_dir = DEFAULT_MODEL_DIR.parent / name
    faces = committed_model_faces()
    classifier = EmotionClassifier.load(model_dir)
    ours = classifier.predict_proba(faces)
    reference = classifier.postprocess(tensorflow_interpreter_probabilities(model_dir, classifier.prepare(faces)))
    assert (ours.argmax(axis=1) == reference.argmax(axis=1)).all()
    np.testing.assert_allclose(ours, reference, atol=1e-6)


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
