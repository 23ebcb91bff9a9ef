"""bench/trunk_probes.py on constructed data: the served rule's threshold and scores, which
training set a happy head follows, and the batch-norm batches' make-up."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import trunk_probes  # noqa: E402


def test_a_score_that_separates_happy_faces_scores_perfectly_at_the_balanced_threshold():
    truth = {key: np.r_[np.ones(30, bool), np.zeros(70, bool)] for key in trunk_probes.SCORED}
    p_happy = {key: np.where(t, 0.8, 0.3) for key, t in truth.items()}
    row = trunk_probes.score_happy("separating", p_happy, truth, half=np.arange(0, 100, 2))
    assert 0.3 < row["threshold"] <= 0.8
    assert row["wild_happy_f1"] == row["val_happy_f1"] == row["genki_accuracy"] == 1.0
    # a score that puts a third of the non-happy faces above every happy one cannot be perfect
    p_happy["wild"] = np.where(truth["wild"], 0.8, np.r_[np.full(30, 0.0), np.full(47, 0.3), np.full(23, 0.9)])
    worse = trunk_probes.score_happy("overlapping", p_happy, truth, half=np.arange(0, 100, 2))
    assert worse["wild_best_f1_any_threshold"] < 1.0 and worse["wild_happy_f1"] < 1.0


def test_a_happy_head_follows_the_training_set_it_is_weighted_towards():
    rng = np.random.default_rng(0)
    # FER2013's happy faces show in feature 0, GENKI's smiles in feature 1; the other feature is noise
    fer_y, genki_y = rng.random(2000) < 0.3, rng.random(400) < 0.5
    features = {"fer_train": np.c_[fer_y * 2.0 + rng.normal(0, 0.5, 2000), rng.normal(0, 1, 2000)],
                "genki_train": np.c_[rng.normal(0, 1, 400), genki_y * 2.0 + rng.normal(0, 0.5, 400)]}
    truth = {"fer_train": fer_y, "genki_train": genki_y}
    probe = np.array([[2.0, 0.0], [0.0, 2.0]])  # happy by FER's sign, happy by GENKI's sign
    def head(genki_weight):
        return trunk_probes.fit_happy_head(*trunk_probes.head_training_data(features, truth, genki_weight))

    fer_only = head(0.0).predict_proba(probe)[:, 1]
    genki_only = head(None).predict_proba(probe)[:, 1]
    assert fer_only[0] > 0.8 > 0.5 > fer_only[1]
    assert genki_only[1] > 0.8 > 0.5 > genki_only[0]
    heavy = head(4.0).predict_proba(probe)[:, 1]
    light = head(0.05).predict_proba(probe)[:, 1]
    assert heavy[1] - heavy[0] > light[1] - light[0]
    _, _, weight = trunk_probes.head_training_data(features, truth, 0.25)
    assert weight[:2000].sum() == 2000 and np.isclose(weight[2000:].sum(), 0.25 * 2000)


def test_batch_norm_batches_mix_the_sets_in_the_shares_asked():
    sets = {"fer_train": {"crops": np.zeros((50, 48, 48), np.uint8)},
            "genki_train": {"crops": np.full((50, 48, 48), 200, np.uint8)}}
    sets["genki_train"]["crops"][:, :, :24] = 100  # left half darker: mirrored crops show it
    batches = list(trunk_probes.batch_norm_batches(sets, (("fer_train", 0.5), ("genki_train", 0.5)), batches=6, size=16))
    assert len(batches) == 6 and all(b.shape == (16, 48, 48, 1) and b.dtype == np.float32 for b in batches)
    stacked = np.concatenate(batches)[..., 0]
    from_genki = stacked.max(axis=(1, 2)) > 0
    assert from_genki.sum() == 6 * 8
    mirrored = stacked[from_genki][:, 0, 0] > stacked[from_genki][:, 0, 47]
    assert 0 < mirrored.sum() < from_genki.sum()


def test_the_in_domain_bound_finds_what_the_features_hold_beyond_the_softmax():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, 1400)
    happy = labels == 3
    # feature 0 tells happy faces apart; the network's p(happy) is a coin
    features = np.c_[happy * 3.0 + rng.normal(0, 0.5, 1400), rng.normal(0, 1, 1400)]
    bound = trunk_probes.in_domain_bound(features, rng.random(1400), labels, happy=3)
    assert bound["head fitted on wild-dev's fit half"] > 0.95
    assert bound["network's p(happy)"] < 0.4
