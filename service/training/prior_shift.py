"""Does the adjusted happy share recover places that are happier or sadder than the training data?

The raw share of faces called happy drifts toward the classifier's own habits: with tpr 0.86
and fpr 0.04 a place where 10% of faces are happy reads 12%, and one where 70% are reads 62%.
The adjusted share (p - fpr) / (tpr - fpr) removes that bias, but only as well as the rates
carry over to faces they were not measured on. On the evaluation faces themselves it equals the
true share by construction, which tests nothing. Here the faces are split at random into a
calibration half, where tpr and fpr are measured, and a test half, from which groups of faces
with a chosen happy share are drawn (a simulated location-day); the raw and the adjusted share
of each group are compared with its known share, over many random splits. Pure functions on the
happy decisions; nothing is loaded here.
"""

from __future__ import annotations

import numpy as np

from service.training.evaluate import adjusted_share, binary_scores

DEFAULT_SHARES = (0.05, 0.1, 0.25, 0.5, 0.75)
DEFAULT_GROUP_SIZE = 400  # faces per simulated location-day
DEFAULT_REPEATS = 500
MIN_GROUP_SIZE = 20


def largest_group(happy: int, others: int, shares: tuple[float, ...], wanted: int) -> int:
    """The largest group size up to ``wanted`` that every share can be drawn at from a test half of
    ``happy`` happy and ``others`` other faces, without drawing a face twice."""
    fits = [min(happy / s if s > 0 else np.inf, others / (1 - s) if s < 1 else np.inf) for s in shares]
    return int(min(wanted, *fits))


def draw_group(happy_idx: np.ndarray, other_idx: np.ndarray, share: float, size: int, rng) -> np.ndarray:
    """Indices of ``size`` faces of which round(share * size) are happy, drawn without replacement."""
    n_happy = int(round(share * size))
    return np.concatenate([rng.choice(happy_idx, n_happy, replace=False),
                           rng.choice(other_idx, size - n_happy, replace=False)])


def one_split_errors(decided, truth, shares, size, rng) -> tuple[np.ndarray, np.ndarray]:
    """Errors (raw, adjusted) of one random calibration/test split: one group per share. The split
    halves the happy and the other faces separately, so every test half holds the same counts."""
    happy_all, other_all = rng.permutation(np.flatnonzero(truth)), rng.permutation(np.flatnonzero(~truth))
    half_happy, half_other = len(happy_all) // 2, len(other_all) // 2
    calibration = np.concatenate([happy_all[:half_happy], other_all[:half_other]])
    calibrated = binary_scores(truth[calibration], decided[calibration])
    tpr, fpr = calibrated["recall"], calibrated["fpr"]
    raw, adjusted = [], []
    for share in shares:
        group = draw_group(happy_all[half_happy:], other_all[half_other:], share, size, rng)
        true_share, said = truth[group].mean(), decided[group].mean()
        estimate = adjusted_share(said, tpr, fpr)
        raw.append(said - true_share)
        adjusted.append(np.nan if estimate is None else estimate - true_share)
    return np.array(raw), np.array(adjusted)


def error_summary(errors: np.ndarray) -> dict[str, float | None]:
    """Bias (mean signed error) and the 95th percentile of the absolute error, in share units
    (None when no estimate was defined: a classifier whose tpr equals its fpr)."""
    defined = errors[~np.isnan(errors)]
    if defined.size == 0:
        return {"bias": None, "p95_abs_error": None}
    return {"bias": float(defined.mean()), "p95_abs_error": float(np.percentile(np.abs(defined), 95))}


def prior_shift_check(decided_happy: np.ndarray, is_happy: np.ndarray, shares: tuple[float, ...] = DEFAULT_SHARES,
                      group_size: int = DEFAULT_GROUP_SIZE, repeats: int = DEFAULT_REPEATS, seed: int = 0) -> dict:
    """Raw and adjusted happy share against the known share of simulated groups (see the module doc).

    Raises ValueError when the faces are too few, or have too few happy or other faces, to draw
    groups of at least MIN_GROUP_SIZE at every share.
    """
    decided, truth = np.asarray(decided_happy, bool), np.asarray(is_happy, bool)
    size = largest_group(int(truth.sum()) // 2, int((~truth).sum()) // 2, shares, group_size)
    if size < MIN_GROUP_SIZE:
        raise ValueError(f"too few happy or other faces ({int(truth.sum())} / {int((~truth).sum())}) to draw "
                         f"groups of {MIN_GROUP_SIZE} faces at shares {list(shares)}")
    rng = np.random.default_rng(seed)
    errors = [one_split_errors(decided, truth, shares, size, rng) for _ in range(repeats)]
    raw, adjusted = np.array([e[0] for e in errors]), np.array([e[1] for e in errors])
    rows = [{"true_share": share, "raw": error_summary(raw[:, i]), "adjusted": error_summary(adjusted[:, i])}
            for i, share in enumerate(shares)]
    return {"method": "rates measured on a random half, groups of known happy share drawn from the other half",
            "group_size": size, "repeats": repeats, "seed": seed, "shares": rows}
