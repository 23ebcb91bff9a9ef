"""Per-person decision rules of the edge agent, measured on real model outputs (issue 29, item 4).

Which rule turns a tracked person's frames into happy / not happy.

    python bench/person_rule.py --genki ../shared/datasets/genki4k-train [--out person_rule.json]

A tracked person's frames show one face, so they are strongly correlated: drawing each frame
from a different person would make any average look better than it is. So every GENKI-4K
hold-out face (service/training/genki.py; smile = happy) is rendered as ``--variants`` frames
(the image itself, then small shifts and scalings, brightness and gamma, blur, sensor noise and
JPEG), and each frame goes through the served path (service/training/served_crops.py: the
canvas, the default detector, ``Pipeline.crops``) and the served model (models/default, its
temperature and happy threshold). A simulated person is one smile face and one non-smile face
over n frames; a contiguous episode of m = ceil(f n - 1/2) frames shows the smile, at a random
place, and every frame's probabilities are those of a random variant of the face it shows.

The rules (the served decision being p(happy) >= the model's happy threshold, else the most
probable other class):

* ``mean``: the served decision on the mean probabilities of the frames (the agent until now);
* ``votes_q``: happy when at least a share q of the frames are decided happy one by one;
* ``best_third``: the served decision on the mean of the third of the frames (rounded up) with
  the highest p(happy).

Printed: P(person decided happy | f, n) with Wilson 95% intervals, and on a mixed population
(n uniform in 3..24, f uniform over the grid) accuracy, false-happy rate of never-smiling
people and the happy-share error, each rule minus ``mean`` with paired bootstrap 95% intervals.
The truth there: a person is happy when they smile in at least a third of their frames (m/n >=
1/3, the issue's example). Seeded: the same data and seed give the same figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("bench.person_rule")

FRACTIONS = (0.0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 1.0)
LENGTHS = (3, 6, 12, 24)
VOTE_SHARES = (1 / 4, 1 / 3)
TRUE_SHARE = 1 / 3  # a person is happy when they smile in at least this share of their frames
RESAMPLES = 2000
PARTS = ("genki", "walks", "footage")


def variant(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One camera frame's view of a face image: shifted and scaled a little, lit differently,
    perhaps blurred, with sensor noise, JPEG-compressed."""
    import cv2

    height, width = rgb.shape[:2]
    scale = rng.uniform(0.9, 1.1)
    shift = rng.uniform(-0.05, 0.05, 2) * (width, height)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-4, 4), scale)
    matrix[:, 2] += shift
    image = cv2.warpAffine(rgb, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    image = 255 * (np.clip(image * rng.uniform(0.75, 1.25) / 255, 0, 1) ** rng.uniform(0.8, 1.25))
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.2))
    image = np.clip(image + rng.normal(0, rng.uniform(1, 6), image.shape), 0, 255).astype(np.uint8)
    quality = int(rng.integers(50, 95))
    encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def frame_probabilities(root: Path, variants: int, seed: int, model: str, detector_name: str) -> dict:
    """p(happy) and served per-frame decisions of every hold-out face's variants, through the
    served crop and model: {"smile": [faces] of arrays [k, C], "non_smile": ...} with the classes
    and threshold."""
    from service.training import genki
    from service.training.served_crops import read_rgb, served_crops
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(model)
    detector = build_detector(detector_name)
    chosen = genki.select(genki.list_files(root), "holdout", genki.read_holdout_file())
    rng = np.random.default_rng(seed)
    images, owners = [], []
    for face, item in enumerate(chosen):
        rgb = read_rgb(root / item.name)
        if rgb is None:
            continue
        for number in range(variants):
            images.append(rgb if number == 0 else variant(rgb, rng))
            owners.append(face)
    log.info("%d hold-out faces, %d frames to detect and classify", len(chosen), len(images))
    started = time.perf_counter()
    found = served_crops(images, detector)
    log.info("detected in %.0f s: %d of %d frames have their face found", time.perf_counter() - started,
             len(found.indices), len(images))
    probabilities = classifier.predict_proba(found.crops) if len(found.crops) else np.zeros((0, 7))
    per_face: dict[int, list[np.ndarray]] = {}
    for index, row in zip(found.indices, probabilities):
        per_face.setdefault(owners[index], []).append(row)
    faces = {"smile": [], "non_smile": []}
    for face, rows in sorted(per_face.items()):
        if len(rows) >= 2:  # a face seen in one frame only gives no frame-to-frame variation
            faces["smile" if chosen[face].smile else "non_smile"].append(np.stack(rows))
    return {"faces": faces, "classes": classifier.classes, "threshold": classifier.happy_threshold,
            "frames": len(images), "frames_found": int(len(found.indices)), "faces_in_holdout": len(chosen)}


def smile_frames(fraction: float, length: int) -> int:
    """m = ceil(f n - 1/2): the nearest whole number of frames, halves rounded down."""
    return max(0, math.ceil(fraction * length - 0.5))


def simulate(data: dict, lengths: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Per person, the probabilities [n, C] of their frames (see the module docstring)."""
    smiles, others = data["faces"]["smile"], data["faces"]["non_smile"]
    people = []
    for length, fraction in zip(lengths, fractions):
        smile, other = smiles[rng.integers(len(smiles))], others[rng.integers(len(others))]
        m = smile_frames(fraction, int(length))
        start = int(rng.integers(0, length - m + 1))
        shown = [smile if start <= frame < start + m else other for frame in range(length)]
        people.append(np.stack([face[rng.integers(len(face))] for face in shown]))
    return people


def rules(classes: tuple[str, ...], threshold: float | None) -> dict:
    """name -> function(frames [n, C]) -> decided happy."""
    from service.vision.classifier import decide

    happy = classes.index("happy")

    def served(rows: np.ndarray) -> np.ndarray:
        return decide(rows, classes, threshold) == happy

    def best_third(rows: np.ndarray) -> bool:
        chosen = rows[np.argsort(rows[:, happy])[::-1][: math.ceil(len(rows) / 3)]]
        return bool(served(chosen.mean(axis=0, keepdims=True))[0])

    table = {"mean": lambda rows: bool(served(rows.mean(axis=0, keepdims=True))[0])}
    for share in VOTE_SHARES:
        table[f"votes_{share:.2f}"] = lambda rows, share=share: bool(served(rows).mean() >= share - 1e-9)
    table["best_third"] = best_third
    return table


def curve(data: dict, table: dict, per_cell: int, rng: np.random.Generator) -> list[dict]:
    """P(decided happy | f, n) for every cell of the grid, per rule."""
    from service.index.statistics import wilson_interval

    cells = []
    for length in LENGTHS:
        for fraction in FRACTIONS:
            people = simulate(data, np.full(per_cell, length), np.full(per_cell, fraction), rng)
            cell = {"n": length, "f": round(fraction, 4), "m": smile_frames(fraction, length), "people": per_cell}
            for name, rule in table.items():
                happy = sum(rule(rows) for rows in people)
                cell[name] = {"p_happy": happy / per_cell, "ci95": list(wilson_interval(happy, per_cell))}
            cells.append(cell)
        log.info("curve: n=%d done", length)
    return cells


def population(data: dict, table: dict, size: int, rng: np.random.Generator) -> dict:
    """The mixed population's scores per rule, and each rule minus ``mean`` (paired bootstrap)."""
    from service.training.uncertainty import percentile_interval

    lengths = rng.integers(3, 25, size)
    fractions = np.asarray(FRACTIONS)[rng.integers(len(FRACTIONS), size=size)]
    people = simulate(data, lengths, fractions, rng)
    smiled = np.array([smile_frames(f, int(n)) / n for f, n in zip(fractions, lengths)])
    truth = smiled >= TRUE_SHARE - 1e-9
    never = fractions == 0
    decided = {name: np.array([rule(rows) for rows in people]) for name, rule in table.items()}
    draws = rng.integers(0, size, (RESAMPLES, size))

    def scores(called: np.ndarray, rows: np.ndarray | slice = slice(None)) -> dict:
        c, t, z = called[rows], truth[rows], never[rows]
        return {"accuracy": (c == t).mean(axis=-1), "share_error": c.mean(axis=-1) - t.mean(axis=-1),
                "false_happy_never_smiling": (c & z).sum(axis=-1) / np.maximum(1, z.sum(axis=-1)),
                "missed_third_or_more": (~c & t).sum(axis=-1) / np.maximum(1, t.sum(axis=-1))}

    report = {"people": size, "true_happy_share": float(truth.mean()), "never_smiling": int(never.sum()),
              "truth": f"happy when smiling in >= {TRUE_SHARE:.3f} of the frames", "rules": {}}
    base = scores(decided["mean"], draws)
    for name, called in decided.items():
        point, boot = scores(called), scores(called, draws)
        row = {key: {"value": float(point[key]), "ci95": percentile_interval(boot[key])} for key in point}
        if name != "mean":
            row["minus_mean"] = {key: percentile_interval(boot[key] - base[key]) for key in point}
        report["rules"][name] = row
    return report


def markdown(report: dict, names: list[str]) -> str:
    lines = []
    if "curve" in report:
        lines += curve_table(report, names) + [""] + population_table(report["population"])
    if "walks" in report:
        lines += ["", "Walk videos (real detector, model and tracker; smile share of the time in view, and of the "
                  "track's read frames; truth: happy when the latter >= 1/3):", "",
                  "| smile at | walker | smile share in view | of read frames | truth | read frames | frames decided "
                  "happy | mean p(happy) | agent | " + " | ".join(names) + " |", "|---" * (9 + len(names)) + "|"]
        lines += [track_row(row, names, ("place", "face", "smile_share", "smile_share_read", "truth_happy"))
                  for row in report["walks"]]
    if isinstance(report.get("footage"), list):
        lines += ["", "Shared footage (frames of the 29.97 frames/s file):", "",
                  "| first frame | last frame | centre | read frames | frames decided happy | mean p(happy) | agent | "
                  + " | ".join(names) + " |", "|---" * (7 + len(names)) + "|"]
        lines += [track_row(row, names, ("first_frame", "last_frame", "centre")) for row in report["footage"]]
    return "\n".join(lines)


def track_row(row: dict, names: list[str], about: tuple[str, ...]) -> str:
    cells = [str(row[key]) for key in about] + [str(row["read_frames"]), str(row.get("happy_frames", "-")),
                                                 str(row.get("mean_p_happy", "-")), str(row["agent"])]
    cells += ["happy" if row.get(name) else "-" for name in names]
    return "| " + " | ".join(cells) + " |"


def curve_table(report: dict, names: list[str]) -> list[str]:
    lines = ["P(person decided happy | smile share f, frames n), Wilson 95% intervals:", "",
             "| n | f | smile frames | " + " | ".join(names) + " |", "|---" * (3 + len(names)) + "|"]
    for cell in report["curve"]:
        values = [f"{cell[n]['p_happy']:.3f} ({cell[n]['ci95'][0]:.3f}-{cell[n]['ci95'][1]:.3f})" for n in names]
        lines.append(f"| {cell['n']} | {cell['f']:.3f} | {cell['m']} | " + " | ".join(values) + " |")
    return lines


def population_table(pop: dict) -> list[str]:
    lines = [f"Mixed population: {pop['people']} people, n in 3..24, f uniform over the grid; truth: "
             f"{pop['truth']} (true happy share {pop['true_happy_share']:.3f}). Bootstrap 95% intervals; "
             "'vs mean' is the paired difference.", "",
             "| rule | accuracy | vs mean | false happy, never smiling | vs mean | missed (truth happy) | vs mean "
             "| happy-share error | vs mean |", "|---" * 9 + "|"]
    for name, row in pop["rules"].items():
        cols = []
        for key in ("accuracy", "false_happy_never_smiling", "missed_third_or_more", "share_error"):
            sign = "+" if key == "share_error" else ""
            value, (low, high) = row[key]["value"], row[key]["ci95"]
            cols.append(f"{value:{sign}.3f} ({low:{sign}.3f} to {high:{sign}.3f})")
            diff = row.get("minus_mean", {}).get(key)
            cols.append(f"{diff[0]:+.3f} to {diff[1]:+.3f}" if diff else "-")
        lines.append(f"| {name} | " + " | ".join(cols) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which of {', '.join(PARTS)} to run")
    parser.add_argument("--genki", metavar="ROOT", default="../shared/datasets/genki4k-train",
                        help="GENKI-4K root with smile/ and non_smile/ (its committed hold-out is used)")
    parser.add_argument("--samples", type=Path, help="the sample photos the walk videos' faces are cut from "
                        "(default ../shared/samples)")
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--detector", default="blazeface")
    parser.add_argument("--variants", type=int, default=7, help="frames rendered per face (the first: the image)")
    parser.add_argument("--per-cell", type=int, default=2000, help="simulated people per (f, n) cell")
    parser.add_argument("--population", type=int, default=6000, help="people in the mixed population")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--out", type=Path, default=Path("person_rule.json"), help="the JSON report")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parts = set(args.parts.split(","))
    report = {"command": " ".join(sys.argv), "model": args.model, "seed": args.seed}
    if "genki" in parts:
        report |= genki_part(args)
    classes, threshold = classes_and_threshold(args.model)
    table = rules(classes, threshold)
    if "walks" in parts:
        from bench.frames import DEFAULT_SAMPLES
        from bench.person_rule_videos import walk_videos

        report["walks"] = walk_videos(args.samples or DEFAULT_SAMPLES, table)
    if "footage" in parts:
        from bench.detect import FOOTAGE
        from bench.person_rule_videos import footage

        report["footage"] = footage(FOOTAGE, table) if FOOTAGE.is_file() else f"not found: {FOOTAGE}"
    args.out.write_text(json.dumps(report, indent=1))
    log.info("wrote %s", args.out)
    print(markdown(report, list(table)))
    return 0


def classes_and_threshold(model: str) -> tuple[tuple[str, ...], float | None]:
    from service.vision.classifier import read_model_folder

    metadata = read_model_folder(model)[1]
    return tuple(metadata["classes"]), metadata.get("decision", {}).get("happy_threshold")


def genki_part(args: argparse.Namespace) -> dict:
    """The curve and the mixed population on GENKI hold-out faces' frame variants."""
    data = frame_probabilities(Path(args.genki), args.variants, args.seed, args.model, args.detector)
    log.info("faces with >= 2 frames found: %d smile, %d non-smile", len(data["faces"]["smile"]),
             len(data["faces"]["non_smile"]))
    table = rules(data["classes"], data["threshold"])
    rng = np.random.default_rng(args.seed + 1)
    report = {"threshold": data["threshold"], "variants": args.variants, "frames": data["frames"],
              "frames_found": data["frames_found"], "faces_in_holdout": data["faces_in_holdout"],
              "faces_used": {k: len(v) for k, v in data["faces"].items()},
              "per_frame_happy_rate": per_frame_rates(data), "curve": curve(data, table, args.per_cell, rng)}
    report["population"] = population(data, table, args.population, rng)
    return report


def per_frame_rates(data: dict) -> dict:
    """The served decision's happy rate over all frames of smile and of non-smile faces."""
    from service.vision.classifier import decide

    happy = data["classes"].index("happy")
    rates = {}
    for label, faces in data["faces"].items():
        rows = np.concatenate(faces)
        rates[label] = float(np.mean(decide(rows, data["classes"], data["threshold"]) == happy))
    return rates


if __name__ == "__main__":
    sys.exit(main())
