"""Training and serving feed the network the same pixels: the training pipeline's last step and the
served classifier apply the one equalisation function; camera-like effects stay faces."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from service.training.augmentation import CameraConfig, camera_effects  # noqa: E402
from service.training.datasets import FaceSet  # noqa: E402
from service.training.train_config import InputTreatment  # noqa: E402
from service.training.train_data import make_train_dataset  # noqa: E402
from service.vision.classifier import EmotionClassifier  # noqa: E402
from service.vision.preprocess import equalize  # noqa: E402


def camera_like_faces(n: int = 8) -> np.ndarray:
    """Dim, low-contrast faces as a camera delivers them: nothing like FER2013's flat histograms."""
    rng = np.random.default_rng(0)
    return (60 + 40 * rng.random((n, 48, 48))).astype(np.uint8)


def test_training_input_is_the_served_equalisation():
    faces = camera_like_faces()
    face_set = FaceSet(faces, np.zeros(len(faces), np.int64), ("happy", "sad"))
    dataset = make_train_dataset(face_set, batch_size=len(faces), augment=False, seed=0,
                                 treatment=InputTreatment(equalize=True))
    trained_on = next(iter(dataset))[0].numpy()[..., 0].astype(np.uint8)
    served = equalize(faces)
    # the same faces (the dataset shuffles them), pixel for pixel
    assert sorted(face.tobytes() for face in trained_on) == sorted(face.tobytes() for face in served)
    # equalised: each face's cumulative histogram is close to a straight line, unlike the input
    assert np.ptp(served) > 200 and np.ptp(faces) < 45


def test_classifier_equalises_when_its_model_was_trained_so(tiny_model, tmp_path):
    import shutil

    equalising = tmp_path / "eq"
    shutil.copytree(tiny_model, equalising)
    metadata = json.loads((equalising / "metadata.json").read_text())
    (equalising / "metadata.json").write_text(json.dumps({**metadata, "preprocess": {"equalize": True}}))
    faces = camera_like_faces()
    plain, eq = EmotionClassifier.load(tiny_model), EmotionClassifier.load(equalising)
    np.testing.assert_array_equal(eq.predict_proba(faces), plain.predict_proba(equalize(faces)))
    assert not np.allclose(eq.predict_proba(faces), plain.predict_proba(faces))


def test_classifier_applies_temperature_and_threshold_from_metadata(tiny_model, tmp_path):
    import shutil

    from service.vision.classifier import with_temperature

    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_model, tuned)
    metadata = json.loads((tuned / "metadata.json").read_text())
    serving = {"postprocess": {"temperature": 2.5}, "decision": {"happy_threshold": 0.0}}
    (tuned / "metadata.json").write_text(json.dumps({**metadata, **serving}))
    faces = camera_like_faces()
    plain, scaled = EmotionClassifier.load(tiny_model), EmotionClassifier.load(tuned)
    probabilities = scaled.predict_proba(faces)
    np.testing.assert_allclose(probabilities, with_temperature(plain.predict_proba(faces), 2.5), atol=1e-6)
    assert (scaled.decide(probabilities) == scaled.classes.index("happy")).all()  # threshold 0: all happy


def test_camera_effects_keep_shape_and_type_and_are_seeded():
    faces = camera_like_faces(32)
    first = camera_effects(faces, np.random.default_rng(5))
    assert first.shape == faces.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, camera_effects(faces, np.random.default_rng(5)))
    assert not np.array_equal(first, faces)


@pytest.mark.parametrize("effect", ["p_occlusion", "p_lighting", "p_gamma", "p_blur", "p_low_resolution",
                                    "p_noise", "p_jpeg"])
def test_each_camera_effect_changes_every_face_it_is_applied_to(effect):
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (6, 48, 48)).astype(np.uint8)
    only = CameraConfig(**{name: 1.0 if name == effect else 0.0 for name in CameraConfig.__dataclass_fields__
                           if name.startswith("p_")})
    changed = camera_effects(faces, np.random.default_rng(2), only)
    assert all(not np.array_equal(a, b) for a, b in zip(changed, faces))
