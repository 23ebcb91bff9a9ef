"""The index service and repository as they were at a git revision, loaded beside the current
ones, so a query benchmark can time the old and new code alternately in one run."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_at(revision: str, path: str, name: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{revision}:{path}"
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def index_service_at(revision: str) -> types.ModuleType | None:
    """service.index.service at `revision`, wired to that revision's repository; None outside
    a git checkout or for an unknown revision."""
    try:
        repository = _module_at(revision, "service/index/repository.py", "baseline_index_repository")
        service = _module_at(revision, "service/index/service.py", "baseline_index_service")
    except (OSError, subprocess.CalledProcessError):
        return None
    service.repository = repository  # its functions look the name up when called
    return service
