"""Serving without TensorFlow: the classifier runs the committed TFLite file with LiteRT, a model
folder without it is refused with the fix, service/vision never reaches into training code,
`happiness analyze` works with TensorFlow unimportable, and a live `happiness serve` worker
that has analysed a real frame has no TensorFlow library mapped into its memory."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import httpx
import numpy as np
import pytest

from service.vision.classifier import DEFAULT_MODEL_DIR, EmotionClassifier, ModelFolderError
from support import ADMIN_TOKEN, SAMPLES, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
TRAINING_ONLY = ("tensorflow", "keras", "matplotlib", "tqdm", "skimage")
# Run as `python -c`: make every training-only package unimportable, run the CLI, then report
# which of them got into sys.modules anyway.
WITHOUT_TRAINING_PACKAGES = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now raises ModuleNotFoundError
from service.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m, module in sys.modules.items() if module is not None and m.split(".")[0] in {blocked!r})
print(json.dumps({{"loaded": loaded}}))
sys.exit(code)
"""


def astronaut_jpeg() -> bytes:
    """scikit-image's astronaut (one face) as JPEG bytes, in memory."""
    from PIL import Image
    from skimage import data

    buffer = BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_committed_models_load_without_their_keras_files(tmp_path):
    for name in ("default", "paper"):
        folder = tmp_path / name
        folder.mkdir()
        for file in ("model.tflite", "metadata.json"):
            shutil.copy(ROOT / "models" / name / file, folder / file)
        classifier = EmotionClassifier.load(folder)
        probabilities = classifier.predict_proba(np.full((2, *classifier.input_size), 128, np.uint8))
        assert probabilities.shape == (2, 7) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)


def test_a_folder_without_the_tflite_file_is_refused_with_the_fix(tmp_path):
    shutil.copy(DEFAULT_MODEL_DIR / "metadata.json", tmp_path / "metadata.json")
    shutil.copy(DEFAULT_MODEL_DIR / "model.keras", tmp_path / "model.keras")
    with pytest.raises(ModelFolderError, match=r"has no model\.tflite.*happiness export --model"):
        EmotionClassifier.load(tmp_path)


def test_a_folder_without_metadata_is_refused(tmp_path):
    shutil.copy(DEFAULT_MODEL_DIR / "model.tflite", tmp_path / "model.tflite")
    with pytest.raises(ModelFolderError, match=r"no metadata\.json"):
        EmotionClassifier.load(tmp_path)


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` anywhere in the file names (functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_vision_imports_nothing_from_training_or_training_packages():
    files = sorted((ROOT / "service" / "vision").rglob("*.py"))
    assert len(files) >= 8
    offending = {f"{path.relative_to(ROOT)}: {name}" for path in files for name in imported_modules(path)
                 if name.startswith("service.training") or name.split(".")[0] in TRAINING_ONLY}
    assert not offending


def test_the_scan_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from service.training.convert import keras_to_tflite\n    import tensorflow as tf\n")
    assert {"service.training.convert", "tensorflow"} <= imported_modules(source)


def run_without_training_packages(*args: str) -> subprocess.CompletedProcess:
    script = WITHOUT_TRAINING_PACKAGES.format(blocked=TRAINING_ONLY)
    return subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)


def test_analyze_works_with_training_packages_unimportable(tmp_path):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    done = run_without_training_packages("analyze", str(photo), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    answer, report = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert answer["faces"] == 1 and answer["detections"][0]["label"] in EmotionClassifier.load(DEFAULT_MODEL_DIR).classes
    assert report["loaded"] == []


def test_the_blocking_harness_refuses_a_training_import(tmp_path):
    """The check above can fail: `happiness train` needs Keras, and is refused it."""
    done = run_without_training_packages("train", "--data", str(tmp_path), "--out", str(tmp_path / "model"))
    assert done.returncode != 0
    assert "import of keras halted" in done.stderr or "import of tensorflow halted" in done.stderr


@pytest.fixture
def live_worker(tmp_path):
    """`happiness serve --workers 1` on a fresh embedded SQLite database: one process, which
    is the worker. Yields (base url, process)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "HAPPINESS_DATA_DIR": str(tmp_path), "HAPPINESS_ADMIN_TOKEN": ADMIN_TOKEN,
                   "HAPPINESS_LOG_LEVEL": "warning", "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("HAPPINESS_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "1"],
                               cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def mapped_files(pid: int) -> set[str]:
    return {fields[5] for fields in (line.split(None, 5) for line in Path(f"/proc/{pid}/maps").read_text().splitlines())
            if len(fields) == 6}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps (Linux)")
def test_a_live_worker_analyses_a_real_frame_without_tensorflow(live_worker):
    base, process = live_worker
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    location = httpx.post(f"{base}/locations", json={"name": "Lean"}, headers=admin).raise_for_status().json()
    key = httpx.post(f"{base}/locations/{location['id']}/cameras", json={"name": "c"},
                     headers=admin).raise_for_status().json()["api_key"]
    photo = (SAMPLES / "two_people.jpg").read_bytes() if (SAMPLES / "two_people.jpg").exists() else astronaut_jpeg()
    answer = httpx.post(f"{base}/locations/{location['id']}/frames", content=photo, timeout=120,
                        headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
    assert answer.status_code == 201 and answer.json()["faces"] >= 1, answer.text
    files = mapped_files(process.pid)
    assert any("ai_edge_litert" in path for path in files)  # the interpreter that ran both networks
    assert not [path for path in files if "dlib" in path]  # the default detector needs no dlib
    assert not [path for path in files if "tensorflow" in path.lower()]
