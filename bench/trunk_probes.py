"""Is the happy decision limited by its last step or by the network's features? Two cheap probes.

    python bench/trunk_probes.py --model models/default --genki ../shared/datasets/genki4k-train \\
        --folder ../shared/datasets/wild-dev --val ../shared/datasets/fer2013/val \\
        --train ../shared/datasets/fer2013/train

Issue 29 asked for a happy head beside the 7-class head and for in-the-wild training; if the
frozen network's features already held a better happy decision, a head fitted on them would
find it at no cost per face. Two probes, each scored like the served rule (mirror-averaged,
threshold balancing the happy share over FER2013 val and wild-dev's fit half, as ``happiness
export --balance-crop served`` does):

* **happy heads**: logistic regression on the 192 features before the softmax, or on the 7
  log-probabilities, fitted on FER2013 train (happy vs rest), on GENKI-4K's training part
  (smile vs not, through the served crop), or on both (GENKI's faces together weighing 0.25 or 1
  times FER2013's);
* **batch norm re-measured** (AdaBN): the network's batch norm statistics measured again on
  in-the-wild crops (GENKI training part, alone or half-and-half with FER2013 train), labels unused.

Then one diagnostic, never a candidate (wild-dev is for validation): a head on the 192 features
fitted on wild-dev's own fit half and scored on its check half, beside the softmax on that same
half, each at its best threshold. It bounds what in-the-wild labels of all seven expressions could
buy on top of this network: if in-domain labels cannot lift it, only another network can.

The faces come through ``bench/candidates.py``'s cache of served crops (git-ignored ``runs/``),
plus GENKI's training part and FER2013 train. Point estimates; the result and what it means are
in models/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.candidates import add_set_arguments, cached_crops, cached_sets, genki_part  # noqa: E402

log = logging.getLogger("trunk_probes")
SCORED = ("val", "wild", "genki")
GENKI_WEIGHTS = (0.0, 0.25, 1.0)
BATCH_NORM_MIXES = {"FER2013 train": (("fer_train", 1.0),),
                    "FER2013 train + GENKI train, 1:1": (("fer_train", 0.5), ("genki_train", 0.5)),
                    "GENKI train": (("genki_train", 1.0),)}


def training_sets(genki_root: str, train: str, cache: Path) -> dict[str, dict[str, np.ndarray]]:
    """GENKI's training part through the served crop and FER2013 train, read once and cached."""
    from service.training import datasets

    def fer_train() -> tuple[np.ndarray, np.ndarray]:
        faces = datasets.load_split(train, datasets.CANONICAL_CLASSES)
        return faces.images, faces.labels

    return {"genki_train": cached_crops(cache / "genki_train.npz", lambda: genki_part(genki_root, "train")),
            "fer_train": cached_crops(cache / "fer_train.npz", fer_train)}


def happy_targets(sets: dict, happy: int) -> dict[str, np.ndarray]:
    """Each set's true happy decision: GENKI's smile label, otherwise the class label == happy."""
    return {key: (s["labels"] == 1) if key.startswith("genki") else (s["labels"] == happy) for key, s in sets.items()}


def score_happy(name: str, p_happy: dict[str, np.ndarray], truth: dict[str, np.ndarray], half: np.ndarray) -> dict:
    """The served rule's scores for one happy score per face: the threshold balancing the happy
    share over val and wild's fit ``half`` (indices; export's choice), then val, GENKI and wild
    figures, and the best wild F1 any threshold could reach."""
    from service.training import calibration
    from service.training.uncertainty import decision_scores

    threshold = calibration.balanced_threshold([
        calibration.LabelledHappy("val", p_happy["val"], truth["val"]),
        calibration.LabelledHappy("wild", p_happy["wild"][half], truth["wild"][half])])
    scores = {key: decision_scores(p_happy[key] >= threshold, truth[key]) for key in SCORED}
    best = max(decision_scores(p_happy["wild"] >= t, truth["wild"])["f1"] for t in np.linspace(0.02, 0.98, 49))
    return {"probe": name, "threshold": threshold, "val_happy_f1": scores["val"]["f1"],
            "genki_accuracy": scores["genki"]["accuracy"], "wild_happy_f1": scores["wild"]["f1"],
            "wild_precision": scores["wild"]["precision"], "wild_recall": scores["wild"]["recall"],
            "wild_best_f1_any_threshold": best}


def head_training_data(features: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                       genki_weight: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, happy targets, sample weights): FER2013 train (``genki_weight`` 0), GENKI train
    alone (None) or both, all GENKI faces together weighing ``genki_weight`` times all FER2013 faces."""
    keys = ("genki_train",) if genki_weight is None else ("fer_train",) if genki_weight == 0 else ("fer_train", "genki_train")
    weight = np.concatenate([np.full(len(truth[k]), 1.0 if k == "fer_train" or len(keys) == 1
                                     else genki_weight * len(truth["fer_train"]) / len(truth[k])) for k in keys])
    return np.concatenate([features[k] for k in keys]), np.concatenate([truth[k] for k in keys]), weight


def fit_happy_head(x: np.ndarray, happy: np.ndarray, weight: np.ndarray | None = None, strength: float = 1.0):
    """A logistic happy head on standardised inputs (scikit-learn; L2 ``strength``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    head = make_pipeline(StandardScaler(), LogisticRegression(C=1 / strength, max_iter=2000))
    return head.fit(x, happy, logisticregression__sample_weight=weight)


def in_domain_bound(features: np.ndarray, p_happy: np.ndarray, labels: np.ndarray, happy: int, seed: int = 0) -> dict:
    """Diagnostic: wild-dev's check-half happy F1 of a head fitted on its fit half (``features``),
    and of the network's ``p_happy``, each at the best of 49 thresholds (both optimistic alike)."""
    from service.training.calibration import stratified_half
    from service.training.uncertainty import decision_scores

    fit, check = stratified_half(labels, seed)
    head = fit_happy_head(features[fit], labels[fit] == happy)
    truth = labels[check] == happy
    scored = {"head fitted on wild-dev's fit half": head.predict_proba(features[check])[:, 1],
              "network's p(happy)": p_happy[check]}
    return {name: max(decision_scores(score >= t, truth)["f1"] for t in np.linspace(0.02, 0.98, 49))
            for name, score in scored.items()}


def mirrored_outputs(net, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features before the softmax, softmax) of served crops, each the mean over the face and
    its mirror image, as the served model averages them."""
    import keras

    from service.vision.preprocess import equalize

    probe = keras.Model(net.input, [net.get_layer("emotion").input, net.get_layer("emotion").output])
    x = equalize(crops).astype(np.float32)[..., np.newaxis]
    views = [probe.predict(v, batch_size=256, verbose=0) for v in (x, x[:, :, ::-1])]
    return (views[0][0] + views[1][0]) / 2, (views[0][1] + views[1][1]) / 2


def batch_norm_batches(sets: dict, mix: tuple[tuple[str, float], ...], batches: int = 200, size: int = 64, seed: int = 0):
    """Equalised training-mode batches drawn from ``mix`` ((set, share), ...), half of them mirrored."""
    from service.vision.preprocess import equalize

    rng = np.random.default_rng(seed)
    for _ in range(batches):
        drawn = np.concatenate([sets[key]["crops"][rng.integers(0, len(sets[key]["crops"]), round(size * share))]
                                for key, share in mix])
        flip = rng.random(len(drawn)) < 0.5
        drawn[flip] = drawn[flip][:, :, ::-1]
        yield equalize(drawn).astype(np.float32)[..., np.newaxis]


def run_probes(model: Path, sets: dict) -> tuple[list[dict], dict]:
    """Every probe's row (the shipped p(happy), the happy heads, the re-measured batch norms)
    and the in-domain diagnostic."""
    from service.training.architectures import load_saved_model
    from service.training.calibration import stratified_half
    from service.training.datasets import CANONICAL_CLASSES
    from service.training.swa import bare_network, recalibrate_batch_norm

    happy = CANONICAL_CLASSES.index("happy")
    truth = happy_targets(sets, happy)
    half, _ = stratified_half(sets["wild"]["labels"], seed=0)
    net = bare_network(load_saved_model(model / "model.keras"))
    outputs = {key: mirrored_outputs(net, s["crops"]) for key, s in sets.items()}
    rows = [score_happy("network's p(happy) (served)", {k: outputs[k][1][:, happy] for k in SCORED}, truth, half)]
    inputs = {"192 features": {k: o[0] for k, o in outputs.items()},
              "7 log-probabilities": {k: np.log(np.clip(o[1], 1e-7, 1.0)) for k, o in outputs.items()}}
    for source, features in inputs.items():
        for weight in (*GENKI_WEIGHTS, None):
            head = fit_happy_head(*head_training_data(features, truth, weight))
            fitted = ("GENKI train only" if weight is None else "FER2013 train only" if weight == 0
                      else f"FER2013 train + GENKI train x{weight:g}")
            rows.append(score_happy(f"head on {source}, fitted on {fitted}",
                                    {k: head.predict_proba(features[k])[:, 1] for k in SCORED}, truth, half))
    for name, mix in BATCH_NORM_MIXES.items():
        adapted = bare_network(load_saved_model(model / "model.keras"))
        recalibrate_batch_norm(adapted, batch_norm_batches(sets, mix))
        rows.append(score_happy(f"batch norm re-measured on {name}",
                                {k: mirrored_outputs(adapted, sets[k]["crops"])[1][:, happy] for k in SCORED}, truth, half))
    bound = in_domain_bound(outputs["wild"][0], outputs["wild"][1][:, happy], sets["wild"]["labels"], happy)
    return rows, bound


def table(rows: list[dict]) -> str:
    columns = [c for c in rows[0] if c != "probe"]
    lines = ["| probe | " + " | ".join(columns) + " |", "| --- " * (len(columns) + 1) + "|"]
    lines += [f"| {r['probe']} | " + " | ".join(f"{r[c]:.4f}" if c != "threshold" else f"{r[c]:.2f}" for c in columns) + " |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module docstring.")
    parser.add_argument("--model", default="models/default", help="model folder whose network is probed")
    add_set_arguments(parser)  # GENKI's training part fits the heads too
    parser.add_argument("--train", required=True, metavar="SPLIT", help="FER2013 train folder (heads and batch norm)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cache = Path(args.cache)
    sets = {**cached_sets(args.genki, args.folder, args.val, cache), **training_sets(args.genki, args.train, cache)}
    rows, bound = run_probes(Path(args.model), sets)
    for row in rows:
        print(json.dumps(row))
    print(table(rows))
    print("diagnostic, wild-dev's check half, happy F1 at the best threshold:", json.dumps(bound))
    return 0


if __name__ == "__main__":
    sys.exit(main())
