"""A training loss for faces labelled only happy / not happy, beside faces with a class target.

GENKI-4K says smile or not, never which of the seven expressions a face shows. Such a face
should teach the network its happy decision and nothing about the other six classes, so its
loss is the binary cross-entropy of the softmax's happy probability alone. Rows carry their kind
in one extra target column:

    y_true [B, C + 1]: columns 0..C-1 the class target; column C 1.0 for a happy/not-happy row,
                       whose happy column then holds 1.0 (happy) or 0.0 (not happy)

A class-target row's loss is the usual categorical cross-entropy (with the recipe's label
smoothing); a happy/not-happy row's is ``weight`` x the binary cross-entropy of p(happy), its
target smoothed alike. ``HappyAccuracy`` is the matching training metric: the arg-max class
for class rows, whether happy is the arg-max for the others.
"""

from __future__ import annotations

import keras
from keras import ops

EPSILON = 1e-7


def split_targets(y_true, num_classes: int, happy_index: int):
    """(class targets [B, C], happy/not-happy flag [B], happy target [B])."""
    return y_true[:, :num_classes], y_true[:, num_classes], y_true[:, happy_index]


@keras.saving.register_keras_serializable(package="happiness")
class HappyTargetLoss(keras.losses.Loss):
    """Categorical cross-entropy for class rows, weighted happy-vs-rest cross-entropy for the
    happy/not-happy rows (see the module docstring)."""

    def __init__(self, num_classes: int, happy_index: int, weight: float = 1.0, label_smoothing: float = 0.0,
                 name: str = "happy_target_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.num_classes, self.happy_index = num_classes, happy_index
        self.weight, self.label_smoothing = weight, label_smoothing

    def call(self, y_true, y_pred):
        targets, binary, happy = split_targets(ops.cast(y_true, y_pred.dtype), self.num_classes, self.happy_index)
        categorical = keras.losses.categorical_crossentropy(targets, y_pred, label_smoothing=self.label_smoothing)
        smoothed = happy * (1.0 - self.label_smoothing) + self.label_smoothing / 2.0
        p_happy = ops.clip(y_pred[:, self.happy_index], EPSILON, 1.0 - EPSILON)
        binary_loss = -(smoothed * ops.log(p_happy) + (1.0 - smoothed) * ops.log(1.0 - p_happy))
        return ops.where(binary > 0.5, self.weight * binary_loss, categorical)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "happy_index": self.happy_index,
                "weight": self.weight, "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="happiness")
class HappyAccuracy(keras.metrics.MeanMetricWrapper):
    """Training metric for mixed rows: the arg-max class for class rows, whether happy is the
    arg-max for the happy/not-happy rows. Named ``accuracy`` so histories keep their keys."""

    def __init__(self, num_classes: int, happy_index: int, name: str = "accuracy", **kwargs) -> None:
        super().__init__(fn=_mixed_accuracy, name=name, num_classes=num_classes, happy_index=happy_index, **kwargs)
        self.num_classes, self.happy_index = num_classes, happy_index

    def get_config(self) -> dict:
        return {"name": self.name, "num_classes": self.num_classes, "happy_index": self.happy_index}


def _mixed_accuracy(y_true, y_pred, num_classes: int, happy_index: int):
    targets, binary, happy = split_targets(ops.cast(y_true, y_pred.dtype), num_classes, happy_index)
    predicted = ops.argmax(y_pred, axis=1)
    class_right = ops.cast(ops.equal(predicted, ops.argmax(targets, axis=1)), "float32")
    happy_right = ops.cast(ops.equal(ops.equal(predicted, happy_index), happy > 0.5), "float32")
    return ops.where(binary > 0.5, happy_right, class_right)
