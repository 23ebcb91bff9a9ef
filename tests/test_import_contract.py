"""The import contract in pyproject.toml (layers, independent domains, serving free of training
and bench, no circle): `lint-imports` must keep every contract, so a change that breaks one
fails the suite as well as `make test`."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is missing: install the test extra (pip install -e '.[test]')"
    return found


def test_every_import_contract_is_kept():
    # --no-cache: the answer is about this tree, never a cache of an earlier one
    run = subprocess.run([lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
