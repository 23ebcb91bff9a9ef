"""The index service and repository as they were at a git revision, loaded beside the current
ones, so a query benchmark can time the old and new code alternately in one run."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# modules that moved since the revisions compared (issue 28): old name -> new name, so that an old
# revision's `from service.errors import ...` finds the same module under its new name
MOVED = {"service.errors": "service.api.errors"}
# what an old revision's index service called on service.calibrations.service and now lives in
# service.index.rates (issue 28 broke the index <-> calibrations circle)
RATES_MOVED = ("model_rates", "rates_in_use", "rates_of_locations")


def _module_at(revision: str, path: str, name: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{revision}:{path}"
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def index_service_at(revision: str) -> types.ModuleType | None:
    """service.index.service at `revision`, wired to that revision's buckets, repository,
    statistics and schemas (also for its `from service.index.X import ...`); None outside a git
    checkout or for an unknown revision."""
    modules = {}
    try:
        with ExitStack() as stack:
            stack.enter_context(_count_columns_of(revision))
            for old, new in MOVED.items():
                stack.enter_context(_imported_as(old, importlib.import_module(new)))
            for name in ("buckets", "repository", "statistics", "schemas"):
                modules[name] = _module_at(revision, f"service/index/{name}.py", f"index_{name}_{revision}")
                stack.enter_context(_imported_as(f"service.index.{name}", modules[name]))
            service = _module_at(revision, "service/index/service.py", f"index_service_{revision}")
    except (OSError, subprocess.CalledProcessError):
        return None
    for name, module in modules.items():
        setattr(service, name, module)  # its functions look the names up when called
    if hasattr(service, "calibrations"):
        service.calibrations = _calibrations_as_before()
    return service


def _calibrations_as_before() -> types.ModuleType:
    """service.calibrations.service as an old revision's index service calls it: the current
    module with the rate functions that moved to service.index.rates (the same code)."""
    from service.calibrations import service as calibrations
    from service.index import rates

    module = types.ModuleType("calibrations_as_before")
    module.__dict__.update(vars(calibrations))
    module.__dict__.update({name: getattr(rates, name) for name in RATES_MOVED})
    return module


@contextmanager
def _count_columns_of(revision: str) -> Iterator[None]:
    """While an old revision's modules load, service.db.tables.COUNT_COLUMNS lists only the count
    columns that revision had: its code sums every column it is given, and knows no later one."""
    from service.db import tables

    source = subprocess.run(["git", "show", f"{revision}:service/db/tables.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    current = tables.COUNT_COLUMNS
    tables.COUNT_COLUMNS = tuple(column for column in current if f"    {column}: Mapped" in source)
    try:
        yield
    finally:
        tables.COUNT_COLUMNS = current


@contextmanager
def _imported_as(name: str, module: types.ModuleType) -> Iterator[None]:
    """Let `from <name> import ...` and `from <package> import <module>` find `module` while
    an old revision's code is executed."""
    package, _, attribute = name.rpartition(".")
    parent = sys.modules[package]
    current, current_attribute = sys.modules.get(name), getattr(parent, attribute, None)
    sys.modules[name] = module
    setattr(parent, attribute, module)
    try:
        yield
    finally:
        if current is None:
            del sys.modules[name]
        else:
            sys.modules[name] = current
        if current_attribute is None:
            delattr(parent, attribute)
        else:
            setattr(parent, attribute, current_attribute)
