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


def _conv_bn_relu(x, filters: int, kernel: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _separable_stage(x, filters: int):
    """Two separable 3x3 convolutions, a 2x2 max pool, and a strided 1x1 shortcut added to it.

    Separable convolutions cost ~1/8 of a full 3x3 convolution at these widths, which is
    what keeps the model under ~30 MFLOPs per face; the shortcut keeps gradients flowing.
    """
    shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
    shortcut = layers.BatchNormalization()(shortcut)
    for _ in range(2):
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    return layers.Add()([x, shortcut])


def build_default(num_classes: int = 7, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Model:
    """The project's model: a small residual separable-convolution network for 2-core CPUs.

    Full 3x3 convolutions at 48x48 learn edges, then three separable stages (64, 128, 256
    channels at 24, 12 and 6 pixels) each halve the resolution; global average pooling and
    dropout replace the paper's large dense layers, which held most of its parameters.
    """
    inputs, x = _inputs_scaled(input_shape)
    x = _conv_bn_relu(x, 32)
    x = _conv_bn_relu(x, 32, strides=2)
    for filters in (64, 128, 256):
        x = _separable_stage(x, filters)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="default")


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


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "paper": build_paper,
    "default": build_default,
}

# The paper trained with plain Adam for 30 epochs and kept the best epoch on validation data.
RECIPES: dict[str, Recipe] = {
    "paper": Recipe(30, 64, 1e-3, "adam", False, 0.0, False, 30),
    "default": Recipe(40, 64, 2e-3, "adamw", True, 0.1, True, 15),
}


def build_model(name: str, num_classes: int) -> keras.Model:
    """Instantiate the architecture registered under ``name``."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name](num_classes)
