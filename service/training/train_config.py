"""A training run's configuration: the options it depends on (recorded in the model's metadata)
and the treatment of each training face they select."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from service.training import datasets
from service.training.architectures import RECIPES, Recipe


@dataclass
class TrainConfig:
    """Everything a training run depends on (recorded in the model's metadata)."""

    data: str
    arch: str
    out: str
    epochs: int | None = None
    classes: tuple[str, ...] = datasets.CANONICAL_CLASSES
    cv: int | None = None
    resume: bool = False
    batch_size: int | None = None
    seed: int = 1337
    work_dir: str | None = None
    patience: int | None = None
    learning_rate: float | None = None
    init: str | None = None  # model folder whose network weights start the run
    swa_start: int | None = None  # first epoch (1-based) of the stochastic weight average
    soft_labels: str | None = None  # FER+ votes CSV: train on vote shares (see ferplus.py)
    votes_weight: float = 1.0  # share of the FER+ votes in a soft target, the rest the folder label
    camera_augment: bool = False  # camera-like effects (augmentation.camera_effects)
    equalize: bool = False  # histogram-equalise every face in training, validation and serving
    class_balance: float = 0.0  # power of the inverse class-size loss weights (datasets.class_balance_weights)
    genki: str | None = None  # GENKI-4K root: its training part as happy/not-happy faces (happy_targets.py)
    genki_weight: float = 1.0  # loss weight of a GENKI face beside a face with a class target
    genki_detector: str = "blazeface"  # the detector GENKI's faces are read with (the served crop)
    keep: str = "best"  # which network ends the run: "best" epoch on val accuracy, or the "last" one
    command: str = field(default_factory=lambda: " ".join(sys.argv))

    def recipe(self) -> Recipe:
        """The architecture's recipe with this run's overrides applied."""
        recipe = RECIPES.get(self.arch, RECIPES["default"])
        overrides = {"epochs": self.epochs, "batch_size": self.batch_size, "patience": self.patience,
                     "learning_rate": self.learning_rate}
        recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
        # Weight averaging wants one constant rate: the epochs it averages must circle one region.
        return replace(recipe, cosine_schedule=False) if self.swa_start else recipe

    def __post_init__(self) -> None:
        """Refuse option combinations that cannot train, for one model and for --cv alike."""
        if self.swa_start is not None and not 1 <= self.swa_start <= self.recipe().epochs:
            raise ValueError(f"--swa-start {self.swa_start} must be an epoch between 1 and {self.recipe().epochs}")
        if self.keep not in ("best", "last"):
            raise ValueError(f"--keep {self.keep!r} must be 'best' or 'last'")
        if self.class_balance < 0:
            raise ValueError(f"--class-balance {self.class_balance} must be 0 or more")
        if self.genki and (self.class_balance or self.cv or "happy" not in self.classes or self.genki_weight < 0):
            raise ValueError("--genki needs the happy class and a --genki-weight of 0 or more, and does not go "
                             "with --class-balance or --cv")

    def treatment(self) -> InputTreatment:
        return InputTreatment(camera=self.camera_augment, equalize=self.equalize)

    def work_path(self) -> Path:
        return Path(self.work_dir) if self.work_dir else Path("runs") / f"train-{Path(self.out).name}"



@dataclass(frozen=True)
class InputTreatment:
    """What happens to a training face after the geometric augmentation, in this order:
    camera-like effects, then the histogram equalisation the served model applies too."""

    camera: bool = False
    equalize: bool = False

    def apply(self, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 [N, H, W] -> uint8 [N, H, W]."""
        from service.training.augmentation import camera_effects
        from service.vision.preprocess import equalize

        faces = camera_effects(faces, rng) if self.camera else faces
        return equalize(faces) if self.equalize else faces

