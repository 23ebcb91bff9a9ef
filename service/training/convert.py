"""Keras model -> the TFLite file the service runs (``model.tflite`` of a model folder).

Conversion needs TensorFlow, so it lives here, in training; the service only loads the
converted file (service/vision/classifier.py) with the LiteRT interpreter. The file is
dynamic-range quantised: int8 weights, each layer's input quantised on the fly by XNNPACK's
int8 kernels (models/README.md gives the measured speed and the decisions that change).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

KERAS_FILE = "model.keras"


def keras_to_tflite(keras_path: str | Path, quantize: bool = True) -> bytes:
    """TFLite flatbuffer of a saved Keras model, dynamic-range quantised; ``quantize=False``
    keeps float32 weights (the baseline of bench/latency_classifier.py).

    Dynamic range rather than full int8: it needs no calibration data, and on FER2013 val it
    kept the default model's accuracy where full int8 lost a quarter of a point."""
    from service.training.architectures import load_saved_model

    return model_to_tflite(load_saved_model(keras_path), quantize)


def model_to_tflite(model, quantize: bool = True) -> bytes:
    """TFLite flatbuffer of an in-memory Keras model (see keras_to_tflite)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # without calibration data: dynamic range
    # The converter prints its SavedModel signature on stdout, which must stay clean for JSON output.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()
