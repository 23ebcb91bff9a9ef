"""bench/wild_rates.py: rates fitted on labelled decisions and the held-out raw-vs-adjusted comparison."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.wild_rates import Faces, adjust, compare_on, fit_rates, half_of, held_out_rows, summary_of
from service.index.statistics import adjusted_index


def decisions(happy_called: int, happy: int, other_called: int, other: int) -> Faces:
    called = ([True] * happy_called + [False] * (happy - happy_called)
              + [True] * other_called + [False] * (other - other_called))
    return Faces(np.array(called), np.array([True] * happy + [False] * other))


def test_rates_are_counts_over_each_label_with_their_sample_sizes():
    rates = fit_rates(*vars(decisions(8, 10, 3, 30)).values())
    assert (rates["tpr"], rates["fpr"]) == (pytest.approx(0.8), pytest.approx(0.1))
    assert (rates["n_happy"], rates["n_other"], rates["happy_as_happy"], rates["other_as_happy"]) == (10, 30, 8, 3)
    assert rates["tpr_ci95"][0] < 0.8 < rates["tpr_ci95"][1] and rates["fpr_ci95"][0] < 0.1 < rates["fpr_ci95"][1]
    assert fit_rates(np.array([True]), np.array([True]))["fpr"] is None


def test_adjust_is_the_services_adjusted_index():
    for raw, tpr, fpr in ((0.3, 0.8, 0.1), (0.05, 0.8, 0.1), (0.95, 0.8, 0.1)):
        assert float(adjust(raw, tpr, fpr)) == pytest.approx(adjusted_index(raw, tpr, fpr))
    assert np.isnan(adjust(0.3, 0.2, 0.2))


def test_halves_depend_only_on_the_key_and_split_about_evenly():
    keys = [f"{i:04d}" for i in range(2000)]
    halves = [half_of(key) for key in keys]
    assert halves == [half_of(key) for key in keys] and 900 < sum(halves) < 1100


def test_rates_of_the_same_faces_recover_the_truth_and_beat_raw():
    judged = decisions(160, 200, 160, 800)  # tpr 0.8, fpr 0.2: raw 0.32 for a true 0.2
    row = compare_on(judged, fit=decisions(800, 1000, 200, 1000), resamples=200)
    assert row["true_share"] == pytest.approx(0.2) and row["raw_share"] == pytest.approx(0.32)
    assert row["adjusted_share"] == pytest.approx((0.32 - 0.2) / 0.6)
    assert row["abs_gain"] == pytest.approx(0.12) and row["intervals"]["abs_gain"][0] > 0


def test_rates_from_another_population_can_make_the_share_worse():
    judged = decisions(19, 20, 2, 20)  # this population: tpr 0.95, fpr 0.1, raw 0.525 for a true 0.5
    row = compare_on(judged, rates=(0.8, 0.02), resamples=200)  # rates measured elsewhere
    assert row["adjusted_share"] == pytest.approx((0.525 - 0.02) / 0.78)
    assert row["abs_gain"] < 0


def test_held_out_rows_fit_on_the_other_half_of_each_set_and_of_all_sets():
    a = decisions(16, 20, 2, 20)
    b = decisions(8, 20, 0, 20)
    halves = np.array([0, 1] * 20)
    rows = held_out_rows({"a": (a, halves), "b": (b, halves)}, resamples=100)
    assert len(rows) == 8  # 2 judged halves x 2 sets x (own, pooled)
    own = next(r for r in rows if r["judged"] == "a half 0" and r["rates_from"] == "own other half")
    assert own["tpr"] == pytest.approx(fit_rates(a.called[halves == 1], a.truth[halves == 1])["tpr"])
    pooled = next(r for r in rows if r["judged"] == "a half 0" and r["rates_from"] == "pooled other half")
    both = a.part(halves == 1) + b.part(halves == 1)
    assert pooled["tpr"] == pytest.approx(fit_rates(both.called, both.truth)["tpr"])
    summary = summary_of(rows)
    assert set(summary) == {"own other half", "pooled other half"} and summary["own other half"]["of"] == 4


SHARED_WILD = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "wild-dev"
MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "default"


@pytest.mark.skipif(not SHARED_WILD.is_dir(), reason=f"{SHARED_WILD} is absent (wild-dev is not shipped with the code)")
def test_the_real_measurement_on_a_few_wild_dev_faces(tmp_path):
    """The bench's reading of wild-dev happy/neutral (served model, BlazeFace, served crop) on 12
    faces of each: labels follow the folders, and the rates are counts over them."""
    from bench.wild_rates import folder_faces
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    for name in ("happy", "neutral"):
        (tmp_path / name).mkdir()
        for path in sorted((SHARED_WILD / name).iterdir())[:12]:
            shutil.copy(path, tmp_path / name / path.name)
    classifier, detector = EmotionClassifier.load(MODEL_DIR), build_detector("blazeface")
    faces, halves, found = folder_faces(str(tmp_path), classifier, detector, "pad")
    assert found["images"] == 24 and found["happy_found"] + found["neutral_found"] == found["found"] == len(faces.truth)
    assert found["found"] >= 20 and set(halves) <= {0, 1}
    rates = fit_rates(faces.called, faces.truth)
    assert rates["n_happy"] == found["happy_found"] and rates["tpr"] > rates["fpr"]
