"""The index service and repository as they were at a git revision, loaded beside the current
ones, so a query benchmark can time the old and new code alternately in one run."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
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
    """service.index.service at `revision`, wired to that revision's repository and schemas
    (also for its `from service.index.repository import ...`), so it answers as it did; None
    outside a git checkout or for an unknown revision."""
    try:
        repository = _module_at(revision, "service/index/repository.py", f"index_repository_{revision}")
        schemas = _module_at(revision, "service/index/schemas.py", f"index_schemas_{revision}")
        with _imported_as("service.index.repository", repository), _imported_as("service.index.schemas", schemas):
            service = _module_at(revision, "service/index/service.py", f"index_service_{revision}")
    except (OSError, subprocess.CalledProcessError):
        return None
    service.repository = repository  # its functions look the name up when called
    return service


@contextmanager
def _imported_as(name: str, module: types.ModuleType) -> Iterator[None]:
    """Let `from <name> import ...` find `module` while an old revision's code is executed."""
    current = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if current is None:
            del sys.modules[name]
        else:
            sys.modules[name] = current
