"""`happiness serve` fails fast: what would stop every worker from starting is checked once in
the parent before any worker exists, and a worker that still fails at start-up ends the server
with a non-zero status at once, instead of leaving a parent that serves nothing.

uvicorn's own supervisor notices a dead worker only between pings, and a ping to a worker that
died before answering waits the whole health-check timeout (60 s here); the parent then stops
with status 0. `FailFastSupervisor` looks for dead workers before pinging, remembers a start-up
failure, and bounds the wait for workers to end after a SIGTERM (`graceful_seconds`, then they
are killed), so a container platform always sees the server go and why."""

from __future__ import annotations

import logging
import time

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from service.config import Settings

log = logging.getLogger("happiness")

CONNECT_TIMEOUT_S = 5  # an unreachable PostgreSQL host is reported after this long, not hung on
WORKER_EXIT_MARGIN_S = 5.0  # beyond the graceful timeout: the lifespan's own shutdown


class CannotStart(RuntimeError):
    """The server cannot start; the message is the one line an operator needs."""


def preflight(settings: Settings) -> None:
    """Raise CannotStart when the database is unreachable or not migrated, the model folder
    cannot be read or the face detector cannot be built (its weights missing or changed): the same
    checks every worker's start-up makes, made once and quickly."""
    check_database(settings.resolved_database_url)
    check_model_folder(settings)
    check_detector(settings)


def check_database(url: str) -> None:
    from service.db.migrate import DatabaseNotMigrated, ensure_migrated

    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if make_url(url).get_backend_name() == "postgresql" else {}
    engine = create_engine(url, connect_args=connect_args)
    try:
        ensure_migrated(engine, url)
    except DatabaseNotMigrated as error:
        raise CannotStart(str(error)) from None
    except Exception as error:  # the driver's own words, on one line, without the password
        where = make_url(url).render_as_string(hide_password=True)
        reason = " ".join(str(error).split())[:300]
        raise CannotStart(f"the database at {where} cannot be reached: {reason}") from None
    finally:
        engine.dispose()


def check_model_folder(settings: Settings) -> None:
    from service.vision.classifier import read_model_folder

    try:
        read_model_folder(settings.model_dir)
    except Exception as error:  # missing files, no permission, metadata that is not JSON
        raise CannotStart(f"the model folder cannot be read: {error}") from None


def check_detector(settings: Settings) -> None:
    from service.vision.detectors import build_detector

    try:
        build_detector(settings.detector, min_face_px=settings.min_face_px, max_width=settings.max_working_width)
    except Exception as error:  # weights missing or not matching their checksum, a refused option
        raise CannotStart(f"the {settings.detector} face detector cannot be built: {error}") from None


def make_supervisor(config, sockets):
    """A uvicorn multi-process supervisor that fails fast (see the module docstring)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess

    class FailFastSupervisor(Multiprocess):
        startup_failed = False

        def keep_subprocess_alive(self) -> None:
            """Replace a worker that died or hangs, as uvicorn does; stop the server when one
            failed at start-up (it would fail the same way again)."""
            for index, process in enumerate(self.processes):
                if self.should_exit.is_set() or answers(process, config.timeout_worker_healthcheck):
                    continue
                process.kill()
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    log.error("a worker could not start (its reason is logged above); stopping the server")
                    self.startup_failed = True
                    self.should_exit.set()
                    return
                log.warning("worker %s ended (status %s); starting another", process.pid, process.exitcode)
                self.processes[index] = replacement = type(process)(config, self.sockets)
                replacement.start()

        def join_all(self) -> None:
            deadline = time.monotonic() + (config.timeout_graceful_shutdown or 0) + WORKER_EXIT_MARGIN_S
            for process in self.processes:
                process.process.join(max(0.0, deadline - time.monotonic()))
                if process.process.is_alive():
                    log.error("worker %s did not stop in time; killing it", process.pid)
                    process.kill()
                    process.process.join()

    return FailFastSupervisor(config, sockets)


def answers(process, timeout: float) -> bool:
    """True when the worker answers a ping within `timeout`; False at once when it has died,
    even while the ping waits (its pipe stays open in this process, so a read would block)."""
    try:
        if not process.process.is_alive():
            return False
        process.parent_conn.send(b"ping")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.parent_conn.poll(0.25):
                process.parent_conn.recv()
                return True
            if not process.process.is_alive():
                return False
    except (OSError, EOFError):
        return False
    return False
