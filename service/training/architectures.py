"""Model architectures, chosen by name from ``ARCHITECTURES``.

Every model takes float32 [N, 48, 48, 1] with raw pixel values 0..255 and scales them itself
(a parameter-free Rescaling layer first), so no caller ever normalises. Every model ends
in a softmax over the classes, in the order given to the builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

INPUT_SHAPE = (48, 48, 1)


def _inputs_scaled(input_shape: tuple[int, int, int]) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Model input of raw 0..255 pixels and the same tensor scaled to 0..1."""
    inputs = keras.Input(shape=input_shape, name="face")
    return inputs, layers.Rescaling(1.0 / 255, name="scale")(inputs)


def build_paper(num_classes: int = 7, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Model:
    """The source paper's CNN, exactly: Conv32-Pool-Conv64-Pool-Conv128-Pool-Flatten-Dense128-Dense64-Dense7.

    3x3 'valid' convolutions, 2x2 max pools, ReLU, softmax; 363,655 parameters for 7 classes at 48x48x1.
    """
    inputs, x = _inputs_scaled(input_shape)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="valid", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="paper")


def _conv_bn_relu(x, filters: int, padding: str):
    """3x3 convolution without bias (batch norm supplies the shift), batch norm, ReLU."""
    x = layers.Conv2D(filters, 3, padding=padding, use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization()(x))


def _dense_bn_relu(x, units: int, dropout: float):
    """Dropout, then a dense layer with batch norm and ReLU, then dropout again."""
    x = layers.Dense(units, use_bias=False)(layers.Dropout(dropout)(x))
    return layers.Dropout(dropout)(layers.ReLU()(layers.BatchNormalization()(x)))


def build_compact(num_classes: int = 7, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Model:
    """The paper's convolution stack, regularised: the project's first default (its val figures:
    models/README.md, Architectures).

    Same cost per face as the paper (~14M multiply-adds): 3x3 Conv32-Conv64-Conv128 ('valid',
    2x2 max pools) with batch norm after every convolution and dropout around a single
    128-unit dense layer. It underfits (train and val accuracy stay equal), hence ``default``.
    """
    inputs, x = _inputs_scaled(input_shape)
    for filters in (32, 64, 128):
        x = layers.MaxPooling2D(2)(_conv_bn_relu(x, filters, "valid"))
    x = _dense_bn_relu(layers.Flatten()(x), 128, 0.3)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="compact")


# Convolution widths per resolution (48, 24, 12, 6 px): one layer per block except at 12 px,
# where expression parts (mouth corners, brows) span a few cells and a second layer pays most.
DEFAULT_BLOCKS = ((32,), (64,), (128, 128), (256,))


def build_default(num_classes: int = 7, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Model:
    """The project's model: a VGG-style stack of 'same' 3x3 convolutions, ~54M multiply-adds per face.

    Chosen by its measured cost on a small CPU, not by val score: the largest of the stacks timed
    that still classifies a face within the per-face latency budget (TFLite, one core) and trains
    an epoch in minutes (the candidates and their timings: models/README.md, Architectures). The
    head keeps position (3x3 cells flattened, not averaged away), because where a feature sits
    (mouth vs brow) matters for expressions.
    """
    inputs, x = _inputs_scaled(input_shape)
    for index, widths in enumerate(DEFAULT_BLOCKS):
        x = layers.MaxPooling2D(2)(x) if index else x
        for filters in widths:
            x = _conv_bn_relu(x, filters, "same")
    x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    x = _dense_bn_relu(x, 192, 0.4)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="default")


@keras.saving.register_keras_serializable(package="happiness")
class HorizontalFlip(layers.Layer):
    """Mirror image of a batch [N, H, W, C] (left-right); deterministic, unlike RandomFlip."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=2)


def with_mirror_average(model: keras.Model) -> keras.Model:
    """``model`` scoring each face and its mirror image, returning the mean of the two softmaxes.

    Expressions are close to left-right symmetric, so the two views disagree mostly by noise;
    averaging them gains some accuracy (models/README.md) at twice the cost per face. It lives
    inside the saved model, so the TFLite file and every caller get the same decisions.
    """
    inputs = keras.Input(shape=model.input_shape[1:], name="face")
    mirrored = HorizontalFlip(name="mirror")(inputs)
    outputs = layers.Average(name="emotion_mean")([model(inputs), model(mirrored)])
    return keras.Model(inputs, outputs, name=model.name)


def ensemble_average(members: list[keras.Model], name: str) -> keras.Model:
    """One model returning the mean softmax of ``members`` (same input, same class order).

    Networks trained from different seeds make partly different mistakes, so their mean is
    right more often than either. Each member is renamed ``member_<i>`` because a functional
    model needs unique layer names and every trained member is called after its architecture.
    """
    inputs = keras.Input(shape=members[0].input_shape[1:], name="face")
    renamed = [keras.Model(m.input, m.output, name=f"member_{i + 1}") for i, m in enumerate(members)]
    outputs = layers.Average(name="ensemble_mean")([member(inputs) for member in renamed])
    return keras.Model(inputs, outputs, name=name)


def load_saved_model(path) -> keras.Model:
    """A model written by ``happiness train`` (this module registers its custom layers)."""
    return keras.models.load_model(path, compile=False)


@dataclass(frozen=True)
class Recipe:
    """How an architecture is trained by default (each field can be overridden on the command line)."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str  # "adam" or "adamw"
    augment: bool
    label_smoothing: float
    cosine_schedule: bool
    patience: int
    mirror_average: bool = False  # ship with_mirror_average(model) instead of the bare model


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "paper": build_paper,
    "compact": build_compact,
    "default": build_default,
}

# The paper trained with plain Adam for 30 epochs and kept the best epoch on validation data.
RECIPES: dict[str, Recipe] = {
    "paper": Recipe(30, 64, 1e-3, "adam", False, 0.0, False, 30),
    "compact": Recipe(30, 64, 2e-3, "adamw", True, 0.1, True, 10),
    # No early stop for the default: a cosine schedule improves until its last epochs.
    "default": Recipe(60, 64, 2e-3, "adamw", True, 0.1, True, 60, mirror_average=True),
}


def build_model(name: str, num_classes: int) -> keras.Model:
    """Instantiate the architecture registered under ``name``."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name](num_classes)
