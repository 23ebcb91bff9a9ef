"""bench/candidates.py's scoring on constructed probabilities (no model): an ensemble is the mean
of its members' softmaxes, the threshold balances the happy share, and the scores follow."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import candidates  # noqa: E402

HAPPY = 3


def rows(p_happy: np.ndarray) -> np.ndarray:
    """Probabilities with p(happy) as given and the rest on neutral."""
    out = np.zeros((len(p_happy), 7))
    out[:, HAPPY], out[:, 4] = p_happy, 1 - p_happy
    return out


def test_an_ensemble_of_two_half_right_members_scores_as_their_mean():
    labels = np.array([HAPPY] * 50 + [4] * 50)
    sets = {"val": {"labels": labels}, "wild": {"labels": labels}, "genki": {"labels": (labels == HAPPY).astype(int)}}
    # member a is sure and right on the first half of each class, member b on the second half;
    # where a member is wrong it says 0.4 on the wrong side, so the mean is right everywhere
    right_a = np.tile(np.r_[np.ones(25), np.zeros(25)], 2).astype(bool)
    truth = labels == HAPPY
    def member(right):
        return rows(np.where(right, np.where(truth, 0.99, 0.01), np.where(truth, 0.1, 0.6)))
    probabilities = {(m, key): member(right) for m, right in (("a", right_a), ("b", ~right_a)) for key in sets}
    alone = candidates.score("a", sets, probabilities)
    both = candidates.score("a+b", sets, probabilities, sweep=(0.05, 0.99))
    assert alone["wild_happy_f1"] < 0.9
    assert both["wild_happy_f1"] == 1.0 and both["val_accuracy"] == 1.0 and both["genki_accuracy"] == 1.0
    assert both["wild_share_error"] == 0.0
    assert both["wild_called_happy_by_class"]["happy"] == 1.0 and both["wild_called_happy_by_class"]["neutral"] == 0.0
    assert both["wild_sweep"]["0.05"]["recall"] == 1.0 and both["wild_sweep"]["0.99"]["recall"] < 1.0
    assert "| a+b |" in candidates.table([alone, both])
