"""Emotion classifier used by the service: a whole batch of faces in one interpreter call.

The service runs a model folder's ``model.tflite`` (written by ``happiness train`` or
``happiness export`` next to ``model.keras`` and ``metadata.json``) with the LiteRT interpreter
of the ``ai-edge-litert`` package: the same TFLite runtime as TensorFlow's, without loading
TensorFlow into the serving process (BENCHMARKS.md: memory per worker). Converting a Keras model is training's job
(service/training/convert.py); a folder without the converted file is refused.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from service.vision.preprocess import equalize

DEFAULT_MODEL_DIR: Path = Path(__file__).resolve().parents[2] / "models" / "default"

TFLITE_FILE = "model.tflite"
METADATA_FILE = "metadata.json"
HAPPY = "happy"


class ModelFolderError(FileNotFoundError):
    """A model folder lacks a file the service needs; the message says how to make it."""


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


def read_model_folder(model_dir: str | Path) -> tuple[bytes, dict]:
    """(model.tflite bytes, metadata) of a model folder, or ModelFolderError naming the fix."""
    model_dir = Path(model_dir)
    metadata_path, tflite_path = model_dir / METADATA_FILE, model_dir / TFLITE_FILE
    if not metadata_path.is_file():
        raise ModelFolderError(f"{model_dir} is not a model folder: it has no {METADATA_FILE} (model folders "
                               "are written by `happiness train`; see models/README.md)")
    if not tflite_path.is_file():
        raise ModelFolderError(f"{model_dir} has no {TFLITE_FILE}, the file the service runs: convert its "
                               f"model.keras with `happiness export --model {model_dir} --data VAL_FOLDER` "
                               "(a training install: pip install '.[train]')")
    return tflite_path.read_bytes(), json.loads(metadata_path.read_text())


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
        self._interpreter = self.new_interpreter(model_content, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch_size = -1
        # One interpreter holds one set of tensors: concurrent calls must take turns.
        self._lock = threading.Lock()

    @staticmethod
    def new_interpreter(model_content: bytes, num_threads: int):
        """LiteRT's interpreter (bench/latency_classifier.py times TensorFlow's beside it)."""
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(model_content=model_content, num_threads=num_threads)

    @classmethod
    def load(cls, model_dir: str | Path, num_threads: int = 1) -> "EmotionClassifier":
        """Load a model folder's model.tflite and metadata.json (see read_model_folder)."""
        content, metadata = read_model_folder(model_dir)
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
        batch = faces_to_input(self.prepare(faces))
        with self._lock:
            self._fit_batch_size(len(batch))
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._output).astype(np.float32, copy=True)
        return self.postprocess(raw)

    def prepare(self, faces: np.ndarray) -> np.ndarray:
        """The faces as the network sees them: equalised when the model was trained on
        equalised faces (metadata "preprocess"), else unchanged."""
        return equalize(faces) if self.equalizes else faces

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """The network's softmax scaled by the model's temperature (metadata "postprocess")."""
        return with_temperature(raw, self.temperature)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """Class index of each face under this model's decision rule (see `decide`)."""
        return decide(probabilities, self.classes, self.happy_threshold)

    def _fit_batch_size(self, batch_size: int) -> None:
        """Resize the interpreter's input only when the batch size changes: re-allocating its tensors
        on every call would add that cost to each frame."""
        if batch_size != self._batch_size:
            self._interpreter.resize_tensor_input(self._input, [batch_size, *self.input_size, 1])
            self._interpreter.allocate_tensors()
            self._batch_size = batch_size
