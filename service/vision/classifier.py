"""Emotion classifier used by the service: a whole batch of faces in one interpreter call.

A model folder holds ``model.keras`` (the trained Keras model), ``metadata.json`` and
``model.tflite``, the same model converted at training time with dynamic-range quantisation:
int8 weights, and each layer's input quantised on the fly by XNNPACK's int8 kernels. On one
core of this project's machine that runs the default model about 4x faster than the float32
conversion (which itself has none of ``model.predict``'s ~35 ms per-call overhead), for a
few decisions in a thousand that differ from the Keras model's (tests bound the difference;
models/README.md gives the measured figures). When ``model.tflite`` is missing it is
converted from ``model.keras`` at load time.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from pathlib import Path

import numpy as np

from service.vision.preprocess import equalize

DEFAULT_MODEL_DIR: Path = Path(__file__).resolve().parents[2] / "models" / "default"

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
METADATA_FILE = "metadata.json"
HAPPY = "happy"


def keras_to_tflite(keras_path: str | Path, quantize: bool = True) -> bytes:
    """TFLite flatbuffer of a saved Keras model, dynamic-range quantised (see the module doc);
    ``quantize=False`` keeps float32 weights (the baseline of bench/latency_classifier.py).

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


def _make_interpreter(model_content: bytes, num_threads: int):
    """A TFLite interpreter from the standalone LiteRT package when installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter warns that LiteRT replaces it
            return tf.lite.Interpreter(model_content=model_content, num_threads=num_threads)
    return Interpreter(model_content=model_content, num_threads=num_threads)


def faces_to_input(faces: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] grayscale faces -> float32 [N, H, W, 1] raw 0..255 (the model scales itself)."""
    return np.ascontiguousarray(faces, dtype=np.float32)[..., np.newaxis]


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling (Guo et al. 2017) of softmax outputs: softmax(log(p) / T). T > 1
    softens an over-confident model's probabilities, T = 1 leaves them as they are; the
    ranking of the classes never changes."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def decide(probabilities: np.ndarray, classes: tuple[str, ...], happy_threshold: float | None = None) -> np.ndarray:
    """Each face's class index: its most probable class, or, with a happy threshold, happy
    exactly when p(happy) >= threshold and otherwise the most probable other class. A
    threshold lets the model's happy decisions be as frequent as the truth (as many false
    positives as false negatives) instead of following whatever argmax gives."""
    if happy_threshold is None or HAPPY not in classes or len(probabilities) == 0:
        return probabilities.argmax(axis=1)
    happy = classes.index(HAPPY)
    others = probabilities.copy()
    others[:, happy] = -1.0
    return np.where(probabilities[:, happy] >= happy_threshold, happy, others.argmax(axis=1))


class EmotionClassifier:
    """Maps grayscale face crops to class probabilities, in the model's class order."""

    def __init__(self, model_content: bytes, metadata: dict, num_threads: int = 1):
        self.metadata = metadata
        self.name: str = metadata["name"]
        self.version: str = str(metadata["version"])
        self.classes: tuple[str, ...] = tuple(metadata["classes"])
        self.input_size: tuple[int, int] = tuple(metadata["input_size"])  # type: ignore[assignment]
        self.equalizes: bool = bool(metadata.get("preprocess", {}).get("equalize", False))
        self.temperature: float = float(metadata.get("postprocess", {}).get("temperature", 1.0))
        self.happy_threshold: float | None = metadata.get("decision", {}).get("happy_threshold")
        self._interpreter = _make_interpreter(model_content, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch_size = -1
        # One interpreter holds one set of tensors: concurrent calls must take turns.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: str | Path, num_threads: int = 1) -> "EmotionClassifier":
        """Load a model folder (metadata.json + model.tflite, or model.keras to convert)."""
        model_dir = Path(model_dir)
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        tflite_path = model_dir / TFLITE_FILE
        if tflite_path.exists():
            content = tflite_path.read_bytes()
        else:
            content = keras_to_tflite(model_dir / KERAS_FILE)
        return cls(content, metadata, num_threads)

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        """Class probabilities float32 [N, C] for uint8 faces [N, H, W] already at ``input_size``:
        preprocess (equalised when the model was trained so), one interpreter call, then the
        model's temperature."""
        faces = np.asarray(faces)
        if faces.ndim != 3 or faces.shape[1:] != self.input_size:
            raise ValueError(f"expected faces [N, {self.input_size[0]}, {self.input_size[1]}], got {faces.shape}")
        if len(faces) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        batch = faces_to_input(equalize(faces) if self.equalizes else faces)
        with self._lock:
            self._fit_batch_size(len(batch))
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._output).astype(np.float32, copy=True)
        return with_temperature(raw, self.temperature)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """Class index of each face under this model's decision rule (see `decide`)."""
        return decide(probabilities, self.classes, self.happy_threshold)

    def _fit_batch_size(self, batch_size: int) -> None:
        """Resize the interpreter's input only when the batch size changes (re-allocation costs ~0.1 ms)."""
        if batch_size != self._batch_size:
            self._interpreter.resize_tensor_input(self._input, [batch_size, *self.input_size, 1])
            self._interpreter.allocate_tensors()
            self._batch_size = batch_size
