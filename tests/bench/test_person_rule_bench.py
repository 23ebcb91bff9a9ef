"""bench/person_rule.py's simulation and scoring on constructed frame probabilities (no model):
people are built from their faces' frames with the smile where it should be, each rule decides
as defined, and the report renders."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import person_rule  # noqa: E402

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def frames(p_happy: float, count: int = 4) -> np.ndarray:
    """One face's frame variants: p(happy) as given, the rest neutral."""
    rows = np.zeros((count, len(CLASSES)))
    rows[:, 3], rows[:, 4] = p_happy, 1 - p_happy
    return rows


DATA = {"faces": {"smile": [frames(0.95), frames(0.9)], "non_smile": [frames(0.02), frames(0.1)]},
        "classes": CLASSES, "threshold": 0.49}


def test_a_simulated_person_shows_the_smile_in_one_contiguous_episode():
    rng = np.random.default_rng(0)
    [person] = person_rule.simulate(DATA, np.array([12]), np.array([1 / 3]), rng)
    smiling = person[:, 3] > 0.5
    assert smiling.sum() == 4 and np.ptp(np.flatnonzero(smiling)) == 3  # 4 frames in a row
    assert person_rule.smile_frames(1 / 6, 3) == 0 and person_rule.smile_frames(1 / 2, 3) == 1


def test_the_rules_decide_a_third_of_frames_smiling_as_defined():
    table = person_rule.rules(CLASSES, 0.49)
    third = np.vstack([frames(0.9, 2), frames(0.05, 4)])
    assert not table["mean"](third)  # mean p(happy) 0.33
    assert table["votes_0.33"](third) and table["votes_0.25"](third) and table["best_third"](third)
    quarter = np.vstack([frames(0.9, 1), frames(0.05, 3)])
    assert not table["votes_0.33"](quarter) and table["votes_0.25"](quarter)


def test_the_curve_and_population_follow_the_rules_and_render():
    rng = np.random.default_rng(1)
    table = person_rule.rules(CLASSES, 0.49)
    report = {"curve": person_rule.curve(DATA, table, 40, rng),
              "population": person_rule.population(DATA, table, 300, rng)}
    cell = next(c for c in report["curve"] if c["n"] == 12 and abs(c["f"] - 1 / 3) < 1e-3)
    assert cell["votes_0.33"]["p_happy"] == 1.0 and cell["mean"]["p_happy"] == 0.0
    rules = report["population"]["rules"]
    assert rules["votes_0.33"]["accuracy"]["value"] == 1.0 and rules["mean"]["accuracy"]["value"] < 1.0
    low, high = rules["votes_0.33"]["minus_mean"]["accuracy"]
    assert 0 < low <= high
    text = person_rule.markdown(report, list(table))
    assert "| votes_0.33 |" in text and "| 12 | 0.333 | 4 |" in text
