"""``happiness train``, ``evaluate``, ``ensemble`` and ``export`` sub-commands.

service/cli.py mounts them with the ``add_*_parser`` functions; each
sets ``func`` to a handler that takes the parsed arguments and returns an exit code. Run
``python -m service.training.cli train ...`` to use them without the main command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``train``: fit an architecture on a folder-per-class data set."""
    parser = subparsers.add_parser("train", help="train an emotion model on a folder-per-class data set")
    parser.add_argument("--data", required=True, help="data set root with train/ (and val/) or one split folder")
    parser.add_argument("--arch", default="default", help="architecture: default (the shipped model), "
                        "compact (the first default, paper-sized), paper (the source paper's CNN)")
    parser.add_argument("--out", required=True, help="model folder to write, e.g. models/default")
    parser.add_argument("--epochs", type=int, help="epochs (default: the architecture's recipe)")
    parser.add_argument("--classes", help="comma-separated subset of emotions, e.g. happy,sad")
    parser.add_argument("--cv", type=int, metavar="K", help="stratified K-fold cross-validation instead of one model")
    parser.add_argument("--resume", action="store_true", help="continue from the work folder's checkpoint")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=1337, help="seed of weights, shuffling and augmentation")
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    parser.add_argument("--work-dir", help="checkpoint folder (default runs/train-<out name>)")
    parser.add_argument("--learning-rate", type=float, metavar="LR", help="base learning rate (default: the recipe's)")
    parser.add_argument("--init", metavar="MODEL_DIR", help="start from the network weights of a trained model "
                        "folder of the same architecture and classes, e.g. models/default (fine-tuning)")
    parser.add_argument("--swa-start", type=int, metavar="EPOCH", help="stochastic weight averaging: keep the "
                        "learning rate constant, average the weights after every epoch from EPOCH on and ship "
                        "the average (batch norm measured again on train) instead of the best epoch")
    parser.add_argument("--soft-labels", metavar="VOTES_CSV", help="train on crowd vote shares instead of the "
                        "folder labels, e.g. ../shared/datasets/fer2013/ferplus_votes.csv (FER+; faces without "
                        "a row keep their folder label, faces the annotators call no face are left out)")
    parser.add_argument("--votes-weight", type=float, default=1.0, metavar="W", help="with --soft-labels: each "
                        "target is W x the vote shares + (1 - W) x the folder label (default 1: votes only; "
                        "0.5 keeps FER2013's labels as strong as FER+'s ten annotators together)")
    parser.add_argument("--camera-augment", action="store_true", help="add camera-like effects to training "
                        "faces: occlusion, uneven light, gamma, blur, low resolution, noise, JPEG")
    parser.add_argument("--class-balance", type=float, default=0.0, metavar="POWER", help="weigh each "
                        "training face's loss by (mean class size / its class size) ** POWER: 0 (default) "
                        "weighs faces alike, 0.5 lets rare classes such as disgust count more, 1 gives "
                        "every class the same total weight")
    parser.add_argument("--genki", metavar="ROOT", help="also train on GENKI-4K's faces (smile / non_smile "
                        "folders, e.g. ../shared/datasets/genki4k-train) read through the service's detector and "
                        "crop, as happy / not-happy targets on p(happy) alone; its committed hold-out "
                        "(service/training/genki_holdout.txt) is never trained on")
    parser.add_argument("--genki-weight", type=float, default=1.0, metavar="W", help="with --genki: loss weight "
                        "of a GENKI face beside a FER2013 face (default 1)")
    parser.add_argument("--keep", choices=("best", "last"), default="best", help="the network the run ends "
                        "with: the best epoch on val accuracy (default), or the last epoch, so that a fine-tuning "
                        "judged on other data than FER2013 val is not cut back to its first epoch")
    parser.add_argument("--equalize", action="store_true", help="histogram-equalise every face in training "
                        "and validation, and record it in the model's metadata so that the service "
                        "equalises each face crop the same way (FER2013's files were equalised)")
    parser.set_defaults(func=run_train_command)
    return parser


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``evaluate``: score a model folder on a folder-per-class split."""
    from service.training.uncertainty import DEFAULT_RESAMPLES
    from service.vision.classifier import DEFAULT_MODEL_DIR

    parser = subparsers.add_parser(
        "evaluate", help="evaluate an emotion model on a folder-per-class split",
        description="Run the served model on labelled faces (one folder per emotion) and report accuracy, "
        "macro F1, per-class scores, the confusion matrix, happy-vs-rest and happy-vs-sad scores and the "
        "true, predicted and adjusted happy share. Example: happiness evaluate --data my-faces/ "
        "--intervals --baseline models/paper")
    parser.add_argument("--data", required=True, help="split folder with class subfolders (or a root with val/)")
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="model folder (default models/default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--report", metavar="DIR", help="write PNG plots and summary.md into DIR")
    parser.add_argument("--intervals", type=int, nargs="?", const=DEFAULT_RESAMPLES, metavar="RESAMPLES",
                        help="add 95%% intervals of the headline figures (percentile bootstrap over the faces, "
                        f"{DEFAULT_RESAMPLES} resamples unless given): how far a figure measured on this many "
                        "faces can be trusted, e.g. the happy rates measured on your own cameras' faces")
    parser.add_argument("--baseline", metavar="MODEL_DIR", help="also run this model on the same faces and report "
                        "each figure's difference with a paired 95%% interval: is the model better, or is the "
                        "difference noise? (e.g. --baseline models/paper)")
    parser.add_argument("--ferplus", metavar="VOTES_CSV", help="also score against the FER+ majority label of each "
                        "face that has a row in this FER+ votes file (FER2013 folders only), e.g. "
                        "../shared/datasets/fer2013/ferplus_votes.csv: FER2013's own labels are noisy")
    parser.add_argument("--prior-shift", action="store_true", help="check the adjusted happy share on places "
                        "happier or sadder than these faces: rates measured on a random half, groups with a "
                        "known happy share (5%% to 75%%) drawn from the other half, raw and adjusted errors")
    parser.set_defaults(func=run_evaluate_command)
    return parser


def add_ensemble_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``ensemble``: average trained model folders into one model folder."""
    parser = subparsers.add_parser(
        "ensemble", help="average several trained models into one (e.g. the same architecture, other seeds)",
        description="Build one model returning the mean class probabilities of the member models, "
        "convert it for the service and score it on a validation split. Train the members first, "
        "e.g. `happiness train --data D --out runs/members/a --seed 1` and again with --seed 2.")
    parser.add_argument("--members", required=True, help="comma-separated model folders, e.g. runs/members/a,runs/members/b")
    parser.add_argument("--data", required=True, help="validation split folder (or a root with val/) to report metrics on")
    parser.add_argument("--out", required=True, help="model folder to write, e.g. models/default")
    parser.set_defaults(func=run_ensemble_command)
    return parser


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``export``: rebuild a model folder's served TFLite file and re-measure it."""
    parser = subparsers.add_parser(
        "export", help="convert a model's model.keras to its served TFLite file again and re-measure it",
        description="Rebuild model.tflite from model.keras with this version's converter (dynamic-range "
        "quantisation), then measure the val metrics and happy-vs-rest rates stored in metadata.json "
        "through the new file, under a new model version. The Keras weights are not changed.")
    parser.add_argument("--model", required=True, help="model folder, e.g. models/default")
    parser.add_argument("--data", required=True, help="validation split folder (or a root with val/)")
    parser.add_argument("--calibrate", action="store_true", help="fit a temperature on the val faces so that "
                        "the served probabilities are calibrated (expected calibration error before and after "
                        "in metadata.json)")
    parser.add_argument("--balance-data", nargs="+", metavar="FOLDER", default=[], help="choose the happy "
                        "decision threshold that keeps the happy share unbiased on the val faces and on half of "
                        "each labelled FOLDER (the other half checks it), e.g. ../shared/datasets/wild-dev")
    parser.add_argument("--balance-crop", choices=("own", "served"), default="own", help="how --balance-data "
                        "faces are read: 'own' as the folder frames them, 'served' found by the service's default "
                        "detector and cut by its crop, as a camera's face would be (slower: runs the detector)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fit/check halves of --balance-data")
    parser.set_defaults(func=run_export_command)
    return parser


def _command_line() -> str:
    """The command as typed, with the stand-alone module spelled out so it can be rerun."""
    program = Path(sys.argv[0]).name if sys.argv else "happiness"
    if sys.argv and sys.argv[0].endswith(str(Path("training") / "cli.py")):
        program = "python -m service.training.cli"
    return " ".join([program, *(shlex.quote(part) for part in sys.argv[1:])])


def _invocation(args: argparse.Namespace) -> str:
    """The command recorded in a model's metadata: as given to main(), else as typed."""
    return getattr(args, "command_line", None) or _command_line()


def _exit_code(step) -> int:
    """Run ``step()``; bad input (a missing folder, unusable data, an unknown name) is logged
    and answered with exit code 2 instead of a traceback."""
    try:
        step()
    except (ValueError, KeyError, FileNotFoundError) as error:
        log.error("%s", error)
        return 2
    return 0


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter is noise in a CLI; real errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_train_command(args: argparse.Namespace) -> int:
    """Handler of ``train``: one model, or cross-validation with ``--cv``."""
    _quiet_tensorflow()
    from service.training import datasets
    from service.training.train import cross_validate, run_training
    from service.training.train_config import TrainConfig

    def train() -> None:
        config = TrainConfig(
            data=args.data, arch=args.arch, out=args.out, epochs=args.epochs,
            classes=datasets.parse_class_list(args.classes), cv=args.cv, resume=args.resume,
            batch_size=args.batch_size, seed=args.seed, work_dir=args.work_dir,
            patience=args.patience, learning_rate=args.learning_rate, init=args.init,
            swa_start=args.swa_start, soft_labels=args.soft_labels, votes_weight=args.votes_weight,
            camera_augment=args.camera_augment, class_balance=args.class_balance,
            equalize=args.equalize, genki=args.genki, genki_weight=args.genki_weight, keep=args.keep,
            command=_invocation(args),
        )
        if config.cv:
            print(json.dumps(cross_validate(config)["metrics"], indent=2))
        else:
            run_training(config)

    return _exit_code(train)


def run_ensemble_command(args: argparse.Namespace) -> int:
    """Handler of ``ensemble``."""
    _quiet_tensorflow()
    from service.training.ensemble import build_ensemble

    members = [Path(part) for part in args.members.split(",") if part.strip()]
    return _exit_code(lambda: build_ensemble(members, _resolve_split(args.data), Path(args.out), _invocation(args)))


def run_export_command(args: argparse.Namespace) -> int:
    """Handler of ``export``."""
    _quiet_tensorflow()
    from service.training.export import export_model_folder

    return _exit_code(lambda: export_model_folder(Path(args.model), _resolve_split(args.data), _invocation(args),
                                                  args.calibrate, tuple(map(Path, args.balance_data)), args.seed,
                                                  args.balance_crop))


def _resolve_split(data: str) -> Path:
    """A root holding val/ evaluates on val/; anything else is taken as the split folder itself."""
    path = Path(data)
    return path / "val" if (path / "val").is_dir() else path


def run_evaluate_command(args: argparse.Namespace) -> int:
    """Handler of ``evaluate``: metrics as JSON on stdout, or a readable summary; optional report."""
    _quiet_tensorflow()
    return _exit_code(lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> None:
    from service.training.evaluate import predict_folder
    from service.training.report import write_report

    split = _resolve_split(args.data)
    run = predict_folder(args.model, split)
    metrics = {**run.metrics(), **_uncertainty(args, run, split), **_prior_shift(args, run), **_ferplus(args, run)}
    if args.report:
        history_path = Path(args.model) / "history.json"
        history = json.loads(history_path.read_text()) if history_path.exists() else []
        log.info("report written to %s", write_report(args.report, metrics, run.metadata, history, str(split)))
    if args.json:
        print(json.dumps(metrics))
    else:
        _print_readable(metrics)


def _uncertainty(args: argparse.Namespace, run, split: Path) -> dict:
    """The ``intervals`` and ``baseline`` sections asked for with --intervals and --baseline."""
    if args.intervals is None and not args.baseline:
        return {}
    from service.training.evaluate import predict_folder
    from service.training.uncertainty import DEFAULT_RESAMPLES, uncertainty_report

    baseline = predict_folder(args.baseline, split, faces=run.faces) if args.baseline else None
    return uncertainty_report(run, baseline, args.intervals or DEFAULT_RESAMPLES)


def _ferplus(args: argparse.Namespace, run) -> dict:
    """The ``ferplus_majority`` section asked for with --ferplus: the metrics against FER+
    majority labels, on the faces that have one."""
    if not args.ferplus:
        return {}
    from service.training.evaluate import evaluate_probabilities
    from service.training.ferplus import majority_labels, read_votes

    labels = majority_labels(run.faces.paths, run.classes, read_votes(args.ferplus))
    kept = labels >= 0
    if not kept.any():
        raise ValueError(f"no face of {args.data} has a usable row in {args.ferplus}")
    metrics = evaluate_probabilities(run.probabilities[kept], labels[kept], run.classes, run.tpr_fpr, run.happy_threshold)
    return {"ferplus_majority": {**metrics, "faces_without_majority": int((~kept).sum())}}


def _prior_shift(args: argparse.Namespace, run) -> dict:
    """The ``prior_shift`` section asked for with --prior-shift."""
    if not args.prior_shift:
        return {}
    from service.training.evaluate import happy_decisions
    from service.training.prior_shift import prior_shift_check

    return {"prior_shift": prior_shift_check(*happy_decisions(run.probabilities, run.labels, run.classes,
                                                                      run.happy_threshold))}


def _print_readable(metrics: dict) -> None:
    print(f"faces: {metrics['n']}  accuracy: {metrics['accuracy']:.4f}  macro F1: {metrics['macro_f1']:.4f}")
    if metrics.get("happy_vs_rest"):
        print("happy vs rest: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics["happy_vs_rest"].items()))
    if metrics.get("happy_vs_sad_accuracy") is not None:
        print(f"happy vs sad accuracy: {metrics['happy_vs_sad_accuracy']:.4f}")
    if metrics.get("happy_share"):
        print("happy share: " + "  ".join(f"{k} {v}" for k, v in metrics["happy_share"].items()))
    for name, scores in metrics["per_class"].items():
        print(f"  {name:9s} P {scores['precision']:.3f}  R {scores['recall']:.3f}  F1 {scores['f1']:.3f}  n {scores['support']}")
    from service.training.report import prior_shift_table, uncertainty_lines

    for line in uncertainty_lines(metrics) + prior_shift_table(metrics):
        print(line)
    if metrics.get("ferplus_majority"):
        fer_plus = metrics["ferplus_majority"]
        print(f"against FER+ majority labels ({fer_plus['n']} faces): accuracy {fer_plus['accuracy']:.4f}  "
              f"macro F1 {fer_plus['macro_f1']:.4f}  happy F1 {fer_plus['happy_vs_rest']['f1']:.4f}")


def configure_logging() -> None:
    """Logs on stderr, so stdout carries only results (the JSON of ``evaluate --json``)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point until the main ``happiness`` command mounts these sub-commands."""
    configure_logging()
    parser = argparse.ArgumentParser(prog="python -m service.training.cli")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    add_evaluate_parser(subparsers)
    add_ensemble_parser(subparsers)
    add_export_parser(subparsers)
    args = parser.parse_args(argv)
    if argv is not None:  # called from Python: sys.argv is not this command
        args.command_line = " ".join(["python -m service.training.cli", *(shlex.quote(a) for a in argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
