"""`happiness ensemble`: members averaged into one served model, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from service.training.architectures import load_saved_model  # noqa: E402
from service.training.cli import main  # noqa: E402
from service.training.ensemble import check_compatible  # noqa: E402
from service.training.model_folder import read_metadata  # noqa: E402
from service.vision.classifier import EmotionClassifier  # noqa: E402


@pytest.fixture(scope="module")
def second_member(tiny_dataset, tmp_path_factory):
    """Another architecture and seed than `tiny_model`, one epoch on the same faces."""
    out = tmp_path_factory.mktemp("models") / "paper-seed2"
    work = tmp_path_factory.mktemp("runs") / "paper-seed2"
    assert main(["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(out), "--epochs", "1",
                 "--seed", "2", "--work-dir", str(work)]) == 0
    return out


@pytest.fixture(scope="module")
def ensemble(tiny_model, second_member, tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "duo"
    members = f"{tiny_model},{second_member}"
    assert main(["ensemble", "--members", members, "--data", str(tiny_dataset), "--out", str(out)]) == 0
    return out


def keras_outputs(model_dir, faces: np.ndarray) -> np.ndarray:
    return load_saved_model(model_dir / "model.keras")(faces[..., np.newaxis].astype(np.float32)).numpy()


def test_ensemble_returns_the_mean_of_its_members(ensemble, tiny_model, second_member):
    faces = np.random.default_rng(3).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    mean = (keras_outputs(tiny_model, faces) + keras_outputs(second_member, faces)) / 2
    np.testing.assert_allclose(keras_outputs(ensemble, faces), mean, atol=1e-5)
    served = EmotionClassifier.load(ensemble).predict_proba(faces)
    np.testing.assert_allclose(served, mean, atol=0.03)


def test_ensemble_metadata_records_members_and_val_metrics(ensemble, tiny_model, second_member):
    metadata, first, second = read_metadata(ensemble), read_metadata(tiny_model), read_metadata(second_member)
    assert metadata["name"] == "duo" and metadata["architecture"] == "ensemble of default, paper"
    assert metadata["classes"] == first["classes"] and metadata["metrics"]["n"] == 28
    assert set(metadata["happy_vs_rest"]) == {"tpr", "fpr", "n_happy", "n_other"}
    training = metadata["training"]
    assert "ensemble --members" in training["command"]
    assert [m["training"]["command"] for m in training["members"]] == [first["training"]["command"],
                                                                       second["training"]["command"]]
    walls = first["training"]["wall_time_s"] + second["training"]["wall_time_s"]
    assert training["wall_time_s"] == pytest.approx(walls, abs=0.1)
    assert metadata["parameters"] == first["parameters"] + second["parameters"]


def test_members_must_share_classes_and_input_size():
    base = {"classes": ["happy", "sad"], "input_size": [48, 48]}
    check_compatible([base, dict(base)])
    with pytest.raises(ValueError, match="classes"):
        check_compatible([base, {**base, "classes": ["sad", "happy"]}])
    with pytest.raises(ValueError, match="input_size"):
        check_compatible([base, {**base, "input_size": [64, 64]}])


def test_one_member_or_a_missing_folder_is_an_error_exit(tiny_model, tiny_dataset, tmp_path):
    args = ["ensemble", "--data", str(tiny_dataset), "--out", str(tmp_path / "e")]
    assert main([*args, "--members", str(tiny_model)]) == 2
    assert main([*args, "--members", f"{tiny_model},{tmp_path / 'missing'}"]) == 2
    assert not (tmp_path / "e").exists()


def test_members_must_agree_on_equalisation():
    base = {"classes": ["happy", "sad"], "input_size": [48, 48], "preprocess": {"equalize": True}}
    check_compatible([base, dict(base)])
    with pytest.raises(ValueError, match="preprocess"):
        check_compatible([base, {**base, "preprocess": {"equalize": False}}])


def test_an_ensemble_of_equalising_members_equalises_its_faces(tiny_model, tiny_dataset, tmp_path):
    """Members trained on equalised faces are served equalised faces inside the ensemble too
    (before, the ensemble's metadata dropped the step and served them raw faces)."""
    import json
    import shutil

    members = []
    for name in ("a", "b"):
        folder = tmp_path / name
        shutil.copytree(tiny_model, folder)
        metadata = json.loads((folder / "metadata.json").read_text())
        (folder / "metadata.json").write_text(json.dumps({**metadata, "preprocess": {"equalize": True}}))
        members.append(str(folder))
    out = tmp_path / "duo"
    assert main(["ensemble", "--members", ",".join(members), "--data", str(tiny_dataset), "--out", str(out)]) == 0
    assert read_metadata(out)["preprocess"] == {"equalize": True}
    assert EmotionClassifier.load(out).equalizes
