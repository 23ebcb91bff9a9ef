"""`happiness calibrate`: measure a location's own happy-vs-rest rates on its labelled faces and
store them, so that its adjusted index stops relying on FER2013's validation faces."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger("happiness.calibrate")


def add_calibrate_parser(commands) -> None:
    parser = commands.add_parser(
        "calibrate", help="measure a location's own tpr/fpr on its labelled faces and store them",
        description="Run the served classifier on a folder of the location's labelled faces (one sub-folder "
        "per emotion, read like `happiness evaluate`) and store how often it calls happy and other faces "
        "happy. From then on the location's adjusted index and its interval use these rates, as long as "
        "the same model version is served; after a model change the model's own rates are used again "
        "(the answers name the stale calibration) until you calibrate again. A few hundred faces of each "
        "kind pin the rates to a few points. Example: happiness calibrate --location 3 --data faces/station/")
    parser.add_argument("--location", type=int, required=True, help="location id")
    parser.add_argument("--data", type=Path, required=True, help="folder with one sub-folder of faces per emotion")
    parser.add_argument("--model", type=Path, help="model folder (default HAPPINESS_MODEL_DIR, the served one)")
    parser.add_argument("--json", action="store_true", help="print the stored calibration as JSON")
    parser.set_defaults(func=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    from service.config import Settings

    settings = Settings()
    model_dir = args.model or settings.model_dir
    if not args.data.is_dir():
        log.error("no folder %s: give a folder with one sub-folder of faces per emotion", args.data)
        return 2
    try:
        counts, name, version = measure(model_dir, args.data)
        stored = _store(args.location, counts, name, version)
    except (ValueError, FileNotFoundError) as error:
        log.error("%s", error)
        return 2
    _warn_if_not_served(settings.model_dir, model_dir, version)
    print(stored.model_dump_json() if args.json else _readable(stored))
    return 0


def measure(model_dir: Path, data: Path) -> tuple[dict[str, int], str, str]:
    """(counts of labelled faces and of those called happy, model name, model version)."""
    from service.training.evaluate import happy_counts, happy_decisions, predict_folder

    run = predict_folder(model_dir, data)
    counts = happy_counts(*happy_decisions(run.probabilities, run.labels, run.classes, run.happy_threshold))
    if not counts["n_happy"] or not counts["n_other"]:
        raise ValueError(f"{data} needs faces labelled happy and faces labelled otherwise "
                         f"(found {counts['n_happy']} happy, {counts['n_other']} other)")
    return counts, str(run.metadata.get("name", Path(model_dir).name)), str(run.metadata["version"])


def _store(location_id: int, counts: dict[str, int], model_name: str, version: str):
    from service.security.actors import CLI
    from service.calibrations import service
    from service.calibrations.schemas import CalibrationIn
    from service.db.sessions import session_scope
    from service.api.errors import ServiceError

    try:
        with session_scope() as session:
            return service.store(session, location_id, CalibrationIn(model_version=version, **counts), model_name, CLI)
    except ServiceError as error:
        raise ValueError(error.detail) from error


def _warn_if_not_served(served_dir: Path, model_dir: Path, version: str) -> None:
    metadata = Path(served_dir) / "metadata.json"
    served = json.loads(metadata.read_text()).get("version") if metadata.exists() else None
    if served is not None and str(served) != version:
        log.warning("calibrated with model version %s, but %s is served: the rates are used only once it is",
                    version, served)


def _readable(stored) -> str:
    return (f"location {stored.location_id}: tpr {stored.tpr:.4f} ({stored.happy_as_happy} of {stored.n_happy} happy "
            f"faces), fpr {stored.fpr:.4f} ({stored.other_as_happy} of {stored.n_other} other faces), "
            f"model {stored.model_name} {stored.model_version}")
