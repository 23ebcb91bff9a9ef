"""The served model's description: which rates adjust by default (metadata ``default_rates``)."""

from __future__ import annotations

import json
from pathlib import Path

from service.api.model import VALIDATION_FACES, model_info

RATES = {"happy_vs_rest": {"tpr": 0.9, "fpr": 0.1, "n_happy": 900, "n_other": 2700}}
MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "default"


def test_without_default_rates_the_model_rates_apply_as_before():
    info = model_info("m", "1", RATES, "stub")
    assert info.rates_applied and info.rates_measured_on == VALIDATION_FACES and info.rates_note is None


def test_default_rates_of_this_version_name_the_faces_and_can_hold_the_rates_back():
    metadata = RATES | {"default_rates": {"model_version": "1", "applied": False, "note": "why",
                                          "happy_vs_rest_measured_on": "FER2013 validation faces"}}
    info = model_info("m", "1", metadata, "stub")
    assert (info.rates_applied, info.rates_note, info.rates_measured_on) == (False, "why", "FER2013 validation faces")
    assert (info.tpr, info.fpr, info.n_happy) == (0.9, 0.1, 900)  # still reported, for what they are
    assert model_info("m", "2", metadata, "stub").rates_applied  # written for another version: ignored


def test_the_served_model_does_not_adjust_by_default_and_keeps_its_in_the_wild_measurement():
    metadata = json.loads((MODEL_DIR / "metadata.json").read_text())
    info = model_info(metadata["name"], metadata["version"], metadata, "blazeface")
    assert not info.rates_applied and "FER2013" in info.rates_measured_on and info.rates_note
    wild = metadata["default_rates"]["in_the_wild"]
    assert {"genki_holdout", "wild_dev_happy_neutral", "pooled"} <= set(wild)
    assert wild["pooled"]["n_happy"] == wild["genki_holdout"]["n_happy"] + wild["wild_dev_happy_neutral"]["n_happy"]
    assert "bench/wild_rates.py" in wild["command"]
