"""`happiness calibrate` end to end: the committed model on labelled faces (constructed ones, and
real FER2013 faces from ../shared when present), the counts stored for the location on SQLite and
PostgreSQL, and the location's answers using them."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from service.cli import main  # noqa: E402
from service.config import DEFAULT_MODEL_DIR  # noqa: E402
from service.db.engine import make_engine, make_session_factory  # noqa: E402
from service.db.tables import Location, LocationCalibration  # noqa: E402
from service.index import service as index  # noqa: E402
from service.api.model import model_info  # noqa: E402
from training.synthetic_faces import SHARED_FER, write_class_folders  # noqa: E402

pytestmark = pytest.mark.slow
MODEL = json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())


@pytest.fixture
def location_id(database_url, monkeypatch, tmp_path) -> int:
    monkeypatch.setenv("HAPPINESS_DATABASE_URL", database_url)
    monkeypatch.setenv("HAPPINESS_DATA_DIR", str(tmp_path / "data"))
    with make_session_factory(make_engine(database_url)).begin() as session:
        location = Location(name="Calibrated square", timezone="UTC")
        session.add(location)
        session.flush()
        return location.id


def stored(database_url: str, location_id: int) -> LocationCalibration | None:
    with make_session_factory(make_engine(database_url))() as session:
        row = session.get(LocationCalibration, location_id)
        session.expunge_all()
        return row


def expected_counts(folder: Path) -> dict[str, int]:
    """The same faces through the served model, counted here independently of the command."""
    from service.training.evaluate import predict_folder

    from service.vision.classifier import decide

    run = predict_folder(DEFAULT_MODEL_DIR, folder)
    called = decide(run.probabilities, run.classes, run.happy_threshold) == run.classes.index("happy")
    labelled = run.labels == run.classes.index("happy")
    return {"n_happy": int(labelled.sum()), "happy_as_happy": int((called & labelled).sum()),
            "n_other": int((~labelled).sum()), "other_as_happy": int((called & ~labelled).sum())}


def test_calibrate_counts_constructed_faces_and_refuses_a_model_that_cannot_tell_them_apart(
        database_url, location_id, tmp_path, caplog):
    from service.calibrations.cli import measure

    folder = write_class_folders(tmp_path / "faces", {"happy": 6, "sad": 5, "neutral": 5}, seed=4)
    counts, name, version = measure(DEFAULT_MODEL_DIR, folder)
    assert counts == expected_counts(folder) and (counts["n_happy"], counts["n_other"]) == (6, 10)
    assert (name, version) == (MODEL["name"], MODEL["version"])
    # drawn bars are no faces: the model calls none of them happy, so tpr = fpr = 0 and nothing is stored
    assert counts["happy_as_happy"] == counts["other_as_happy"] == 0
    assert main(["calibrate", "--location", str(location_id), "--data", str(folder)]) == 2
    assert "tpr must exceed fpr" in caplog.text and stored(database_url, location_id) is None


def test_calibrate_with_real_faces_and_the_answer_uses_them(database_url, location_id, tmp_path, capsys):
    if not (SHARED_FER / "val").is_dir():
        pytest.skip(f"FER2013 faces not found at {SHARED_FER}")
    folder = tmp_path / "faces"
    for emotion, count in (("happy", 20), ("neutral", 12), ("sad", 12)):
        (folder / emotion).mkdir(parents=True)
        for path in sorted((SHARED_FER / "val" / emotion).iterdir())[:count]:
            shutil.copy(path, folder / emotion / path.name)
    assert main(["calibrate", "--location", str(location_id), "--data", str(folder), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    row = stored(database_url, location_id)
    assert {key: getattr(row, key) for key in expected_counts(folder)} == expected_counts(folder)
    assert (row.n_happy, row.n_other) == (20, 24) and printed["in_use"] is True
    assert (row.model_name, row.model_version) == (MODEL["name"], MODEL["version"])
    assert row.happy_as_happy / 20 > 0.6 > row.other_as_happy / 24  # the model tells these faces apart
    with make_session_factory(make_engine(database_url))() as session:
        query = index.make_query(None, None, "day", model_info(MODEL["name"], MODEL["version"], MODEL, "stub"), 5,
                                 datetime(2026, 3, 1, tzinfo=UTC))
        answer = index.location_index(session, location_id, query)
    assert answer.rates.source == "location" and answer.rates.n_happy == 20


@pytest.mark.parametrize("classes, fragment", [({"sad": 4, "neutral": 3}, "faces labelled happy"),
                                               ({"happy": 4}, "faces labelled happy")])
def test_calibrate_refuses_folders_without_both_kinds(database_url, location_id, tmp_path, caplog, classes, fragment):
    folder = write_class_folders(tmp_path / "faces", classes, seed=5)
    assert main(["calibrate", "--location", str(location_id), "--data", str(folder)]) == 2
    assert fragment in caplog.text and stored(database_url, location_id) is None


def test_calibrate_refuses_an_unknown_location_and_a_missing_folder(database_url, location_id, tmp_path, caplog):
    folder = write_class_folders(tmp_path / "faces", {"happy": 3, "sad": 3}, seed=6)
    assert main(["calibrate", "--location", str(location_id + 99), "--data", str(folder)]) == 2
    assert "does not exist" in caplog.text
    assert main(["calibrate", "--location", str(location_id), "--data", str(tmp_path / "nowhere")]) == 2
    assert "no folder" in caplog.text
