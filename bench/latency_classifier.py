"""Per-face latency of the service's EmotionClassifier on one CPU core.

    python bench/latency_classifier.py --model models/default --batches 1,16 [--float32-baseline]

Pins the process to one core (``--core``), runs the interpreter with one thread, warms up,
then times ``predict_proba`` on random faces and prints one JSON object: the median and
90th-percentile milliseconds per call and per face for each batch size. With
``--float32-baseline`` the same model.keras converted without quantisation is timed too,
call by call in turn with the served file, so load changes hit both alike; with
``--tensorflow-interpreter`` the served file also runs through TensorFlow's interpreter. With
``--compare`` another model folder's served classifier takes turns with this one (two models, one
run); with ``--alternatives`` the same float32 network also runs through two other runtimes, in turn with
the others: OpenCV's DNN module (classic engine, Winograd 3x3 convolutions on) and TensorFlow
graph mode (a ``tf.function``); each is checked to give the Keras model's probabilities first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.vision.classifier import EmotionClassifier, read_model_folder  # noqa: E402


def time_calls(predicts: dict, faces: np.ndarray, repeats: int) -> dict[str, np.ndarray]:
    """Seconds taken by each of ``repeats`` calls of every ``predicts[name](faces)``, the
    variants taking turns call by call, after 10 warm-up calls each."""
    for predict in predicts.values():
        for _ in range(10):
            predict(faces)
    durations = {name: np.empty(repeats) for name in predicts}
    for i in range(repeats):
        for name, predict in predicts.items():
            start = time.perf_counter()
            predict(faces)
            durations[name][i] = time.perf_counter() - start
    return durations


def summarise(durations: np.ndarray, batch: int) -> dict[str, float]:
    """Median and p90 milliseconds per call and per face."""
    median, p90 = np.percentile(durations, [50, 90]) * 1000
    return {"batch": batch, "ms_per_call_median": round(median, 4), "ms_per_call_p90": round(p90, 4),
            "ms_per_face_median": round(median / batch, 4), "ms_per_face_p90": round(p90 / batch, 4)}


class TensorFlowInterpreterClassifier(EmotionClassifier):
    """The served file through TensorFlow's tf.lite.Interpreter, which the service ran before
    LiteRT's (``--tensorflow-interpreter``): the same runtime, so the same time is expected."""

    @staticmethod
    def new_interpreter(model_content: bytes, num_threads: int):
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter warns that LiteRT replaces it
            return tf.lite.Interpreter(model_content=model_content, num_threads=num_threads)


def classifiers(model_dir: str, float32_baseline: bool, tensorflow_interpreter: bool = False) -> dict:
    """The served classifier, and when asked the float32 conversion of its model.keras and the
    served file through TensorFlow's interpreter."""
    from service.training.convert import KERAS_FILE, keras_to_tflite

    served = EmotionClassifier.load(model_dir, num_threads=1)
    variants = {"served": served}
    if tensorflow_interpreter:
        variants["served_tf_interpreter"] = TensorFlowInterpreterClassifier(*read_model_folder(model_dir), num_threads=1)
    if float32_baseline:
        content = keras_to_tflite(Path(model_dir) / KERAS_FILE, quantize=False)
        variants["float32"] = EmotionClassifier(content, served.metadata, num_threads=1)
    return variants


def one_view_network(model):
    """(network, mirrored): the network inside mirror averaging, or the model itself."""
    from service.training.architectures import HorizontalFlip

    mirrored = any(isinstance(layer, HorizontalFlip) for layer in model.layers)
    inner = [layer for layer in model.layers if hasattr(layer, "layers")]
    if mirrored and len(inner) != 1:
        raise ValueError("--alternatives handles one network, with or without mirror averaging, not ensembles")
    return (inner[0] if mirrored else model), mirrored


class OpenCvRunner:
    """The float32 network through cv2.dnn; mirror averaging done around it, as in the model.

    OpenCV's TFLite importer needs static shapes, so one file is converted per batch size."""

    def __init__(self, model):
        import cv2

        cv2.setNumThreads(1)
        self.network, self.mirrored = one_view_network(model)
        self.nets: dict[int, object] = {}

    def _net(self, views: int):
        if views not in self.nets:
            self.nets[views] = opencv_net(self.network, views)
        return self.nets[views]

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        views = np.concatenate([faces, faces[:, :, ::-1]]) if self.mirrored else faces
        net = self._net(len(views))
        net.setInput(np.ascontiguousarray(views, np.float32)[:, np.newaxis])  # NCHW
        out = net.forward().reshape(len(views), -1)
        return (out[: len(faces)] + out[len(faces) :]) / 2 if self.mirrored else out


def opencv_net(network, views: int):
    """cv2.dnn network of ``network`` for a batch of ``views`` faces, Winograd convolutions on."""
    import cv2
    import keras

    from service.training.convert import model_to_tflite

    inputs = keras.Input(batch_shape=(views, 48, 48, 1))
    buffer = np.frombuffer(model_to_tflite(keras.Model(inputs, network(inputs)), quantize=False), np.uint8)
    if hasattr(cv2.dnn, "ENGINE_CLASSIC"):  # OpenCV 5 has two engines; Winograd is the classic one's
        net = cv2.dnn.readNetFromTFLite(buffer, engine=cv2.dnn.ENGINE_CLASSIC)
    else:
        net = cv2.dnn.readNetFromTFLite(buffer)
    net.enableWinograd(True)
    return net


def tf_graph_runner(model):
    """predict_proba through a TensorFlow graph (tf.function) of the whole Keras model."""
    import tensorflow as tf

    graph = tf.function(lambda x: model(x, training=False))
    return lambda faces: graph(tf.constant(faces[..., np.newaxis].astype(np.float32))).numpy()


def alternatives(model_dir: str) -> dict:
    """The other runtimes, each refused unless it reproduces the Keras model's probabilities."""
    from service.training.architectures import load_saved_model
    from service.training.convert import KERAS_FILE

    model = load_saved_model(Path(model_dir) / KERAS_FILE)
    runners = {"opencv_dnn": OpenCvRunner(model).predict_proba, "tf_graph": tf_graph_runner(model)}
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    reference = model(faces[..., np.newaxis].astype(np.float32), training=False).numpy()
    for name, predict in runners.items():
        difference = float(np.abs(predict(faces) - reference).max())
        if difference > 1e-4:
            raise RuntimeError(f"{name} differs from the Keras model by {difference}")
    return runners


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin to; -1 leaves affinity alone")
    parser.add_argument("--float32-baseline", action="store_true",
                        help="also time model.keras converted without quantisation, in turn with the served file")
    parser.add_argument("--tensorflow-interpreter", action="store_true",
                        help="also time the served file through TensorFlow's tf.lite.Interpreter (the runtime "
                        "the service used before LiteRT), in turn with LiteRT's")
    parser.add_argument("--alternatives", action="store_true",
                        help="also time the float32 network through OpenCV DNN (Winograd) and a TensorFlow graph")
    parser.add_argument("--compare", metavar="MODEL_DIR", help="also time another model folder's served "
                        "classifier (its preprocessing and temperature included), in turn with --model's")
    args = parser.parse_args()
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    variants = classifiers(args.model, args.float32_baseline, args.tensorflow_interpreter)
    predicts = {name: c.predict_proba for name, c in variants.items()}
    if args.alternatives:
        predicts.update(alternatives(args.model))
    if args.compare:
        predicts["compared"] = EmotionClassifier.load(args.compare).predict_proba
    rng = np.random.default_rng(0)
    results = {name: [] for name in predicts}
    for batch in (int(b) for b in args.batches.split(",")):
        faces = rng.integers(0, 256, (batch, *variants["served"].input_size), dtype=np.uint8)
        durations = time_calls(predicts, faces, args.repeats)
        for name in predicts:
            results[name].append(summarise(durations[name], batch))
    served = results.pop("served")
    extra = {f"{name}_results": rows for name, rows in results.items()}
    print(json.dumps({"model": args.model, "version": variants["served"].version, "core": args.core,
                      **({"compared_model": args.compare} if args.compare else {}),
                      "results": served, **extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
