"""`happiness`: run the service and administer it from a shell.

    happiness serve                       run the API (embedded SQLite is created and migrated)
    happiness db upgrade                  migrate the database to this version
    happiness locations add "Central Station" --timezone Europe/Amsterdam --setting station
    happiness locations check             locations whose setting needs review
    happiness locations pause 1 --reason "demonstration"    (and resume; cameras too)
    happiness cameras add 1 --name "north entrance"     prints the camera's key once
    happiness audit --since 7d --format csv               who did what, when
    happiness analyze photo.jpg --json    faces and emotions of local files; stores nothing
    happiness agent --source rtsp://... --server URL --location 1 --key KEY   count people beside a camera
    happiness train / evaluate / ensemble / export   the emotion model (see `happiness train --help`)
    happiness calibrate --location 3 --data faces/   a location's own tpr/fpr for its adjusted index
    happiness bench [pipeline|ingest|query|soak|agent|statistics] [--quick]   benchmarks (see BENCHMARKS.md)

Settings come from HAPPINESS_* environment variables (see README)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from service.audit.cli import add_audit_command
from service.security.actors import CLI
from service.config import Settings
from service.db.sessions import session_scope
from service.api.errors import ServiceError
from service.locations.schemas import SETTINGS
from service.pauses.cli import add_pause_actions

log = logging.getLogger("happiness")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ServiceError as error:  # a refused action: its reason, not a traceback
        print(f"{error.title}: {error.detail}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="happiness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    _add_db(commands)
    _add_locations(commands)
    _add_cameras(commands)
    _add_analyze(commands)
    add_audit_command(commands)
    _add_agent(commands)
    _add_training(commands)
    _add_calibrate(commands)
    _add_bench(commands)
    return parser


# --- serve -------------------------------------------------------------------------------

def _add_serve(commands) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API with uvicorn",
                                description="Run the API. With the embedded SQLite default the "
                                "database is created and migrated first.")
    serve.add_argument("--host", help="interface to bind (default HAPPINESS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default HAPPINESS_PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default HAPPINESS_WORKERS or the "
                       "CPUs this process may use: affinity and cgroup CPU quota)")
    serve.set_defaults(func=run_serve)


def run_serve(args) -> int:
    """Serve until stopped: 0 after a SIGTERM or SIGINT, 1 when the server cannot start (the
    reason on one line: settings refused, database unreachable or not migrated, model folder
    unreadable, or a worker's own start-up failure)."""
    from pydantic import ValidationError

    from service.serving.startup import CannotStart

    try:
        settings = Settings()
        return _serve(args, settings)
    except ValidationError as error:
        return _cannot_start("settings refused: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()))
    except CannotStart as error:
        return _cannot_start(str(error))


def _cannot_start(reason: str) -> int:
    log.error("cannot start: %s", reason)
    return 1


def _serve(args, settings: Settings) -> int:
    import uvicorn

    from service.db.migrate import upgrade
    from service.security.server import uvicorn_options
    from service.serving.startup import make_supervisor, preflight

    if settings.uses_embedded_sqlite:
        upgrade(settings.resolved_database_url)
    preflight(settings)
    if settings.admin_token is None:
        log.warning("no HAPPINESS_ADMIN_TOKEN: using the development token in %s",
                    settings.data_dir / "admin-token")
        settings.admin_secret  # create it before the workers race for it
    workers = args.workers or settings.workers
    os.environ["HAPPINESS_WORKERS"] = str(workers)  # each worker sizes its database pool from it
    config = uvicorn.Config("service.main:create_app", factory=True, host=args.host or settings.host,
                            port=args.port or settings.port, workers=workers, **uvicorn_options(settings))
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 1
    supervisor = make_supervisor(config, [config.bind_socket()])
    supervisor.run()
    return 1 if supervisor.startup_failed else 0


# --- db ----------------------------------------------------------------------------------

def _add_db(commands) -> None:
    db = commands.add_parser("db", help="database migrations").add_subparsers(metavar="ACTION")
    up = db.add_parser("upgrade", help="migrate the database (HAPPINESS_DATABASE_URL) to head")
    up.set_defaults(func=run_db_upgrade)
    current = db.add_parser("current", help="show the database's revision and the head")
    current.set_defaults(func=run_db_current)
    prune = db.add_parser("prune", help="delete counts older than the retention window",
                          description="Delete count buckets older than HAPPINESS_RETENTION_DAYS (or "
                          "--days) with the pauses that ended before then, expired frame and observation "
                          "batch receipts, and audit entries older than HAPPINESS_AUDIT_RETENTION_DAYS. The "
                          "server does this on its own every HAPPINESS_PRUNE_INTERVAL_HOURS.")
    prune.add_argument("--days", type=int, help="retention in days (default: the setting)")
    prune.set_defaults(func=run_db_prune)


def run_db_upgrade(args) -> int:
    from service.db.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    print(f"database at head: {_safe_url(settings)}")
    return 0


def run_db_current(args) -> int:
    from service.db.engine import make_engine
    from service.db.migrate import current_revision, head_revision

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    print(f"current: {current_revision(engine)}  head: {head_revision(settings.resolved_database_url)}")
    return 0


def run_db_prune(args) -> int:
    from service.retention.maintenance import prune_everything

    settings = Settings()
    days = args.days or settings.retention_days
    with session_scope() as session:
        pruned = prune_everything(session, settings, CLI, retention_days=days)
    print(f"deleted {pruned.buckets} bucket rows, {pruned.receipts} expired frame receipts, "
          f"{pruned.batch_receipts} expired observation batch receipts, {pruned.pauses} ended pauses and "
          f"{pruned.audit_entries} audit entries; counts kept from {pruned.cutoff:%Y-%m-%d %H:%M} UTC ({days} days)")
    return 0


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


# --- locations and cameras -----------------------------------------------------------------

def _add_locations(commands) -> None:
    locations = commands.add_parser("locations", help="manage locations").add_subparsers(metavar="ACTION")
    add = locations.add_parser("add", help="register a location")
    add.add_argument("name")
    add.add_argument("--timezone", default="UTC", help="IANA zone, e.g. Europe/Amsterdam (default UTC)")
    add.add_argument("--latitude", type=float)
    add.add_argument("--longitude", type=float)
    add.add_argument("--description")
    add.add_argument("--setting", default="other", choices=SETTINGS,
                     help="what kind of place (default other, which `locations check` lists for review); "
                          "workplace and education are refused: EU AI Act Art. 5(1)(f)")
    add.set_defaults(func=run_locations_add)
    listing = locations.add_parser("list", help="list locations")
    listing.set_defaults(func=run_locations_list)
    check = locations.add_parser("check", help="list locations whose setting needs review",
                                 description="List the locations with setting `other` (the migration "
                                 "gave it to every existing location) or a prohibited one; exit 1 when "
                                 "there is any, so that a deployment script can stop on it. Set a real "
                                 "setting with PATCH /locations/{id}.")
    check.set_defaults(func=run_locations_check)
    add_pause_actions(locations)


def run_locations_add(args) -> int:
    from service.locations.schemas import LocationCreate, LocationOut
    from service.locations.service import create_location

    data = LocationCreate(name=args.name, timezone=args.timezone, latitude=args.latitude,
                          longitude=args.longitude, description=args.description, setting=args.setting)
    with session_scope() as session:
        location = LocationOut.model_validate(create_location(session, data, CLI))
    print(location.model_dump_json(indent=2))
    return 0


def run_locations_list(args) -> int:
    from service.locations.service import list_locations

    with session_scope(read_only=True) as session:
        for location in list_locations(session):
            paused = f"  paused since {location.paused_since:%Y-%m-%d %H:%M} UTC" if location.paused_since else ""
            print(f"{location.id:>5}  {location.name}  ({location.timezone}, {location.setting}){paused}")
    return 0


def run_locations_check(args) -> int:
    from service.locations.schemas import PROHIBITED_SETTINGS
    from service.locations.service import list_locations

    with session_scope(read_only=True) as session:
        flagged = [location for location in list_locations(session)
                   if location.setting == "other" or location.setting in PROHIBITED_SETTINGS]
        for location in flagged:
            why = "prohibited: counts refused" if location.setting in PROHIBITED_SETTINGS else "review the setting"
            print(f"{location.id:>5}  {location.name}  setting {location.setting}: {why}")
    print(f"{len(flagged)} location(s) need review" if flagged else "every location has a reviewed setting")
    return 1 if flagged else 0


def _add_cameras(commands) -> None:
    cameras = commands.add_parser("cameras", help="manage camera keys").add_subparsers(metavar="ACTION")
    add = cameras.add_parser("add", help="register a camera and print its key (shown once)")
    add.add_argument("location_id", type=int)
    add.add_argument("--name", default="camera")
    add.set_defaults(func=run_cameras_add)
    revoke = cameras.add_parser("revoke", help="revoke a camera's key")
    revoke.add_argument("location_id", type=int)
    revoke.add_argument("camera_id", type=int)
    revoke.set_defaults(func=run_cameras_revoke)
    add_pause_actions(cameras, cameras=True)


def run_cameras_add(args) -> int:
    from service.cameras.service import create_camera

    with session_scope() as session:
        issued = create_camera(session, args.location_id, args.name, CLI)
        print(json.dumps({"id": issued.camera.id, "location_id": args.location_id,
                          "api_key": issued.api_key}, indent=2))
    return 0


def run_cameras_revoke(args) -> int:
    from service.cameras.service import revoke_camera

    with session_scope() as session:
        camera = revoke_camera(session, args.location_id, args.camera_id, CLI)
        print(f"camera {camera.id} revoked at {camera.revoked_at.isoformat()}")
    return 0


# --- analyze -------------------------------------------------------------------------------

def _add_analyze(commands) -> None:
    analyze = commands.add_parser("analyze", help="faces and emotions of local images (stores nothing)")
    analyze.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    analyze.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    analyze.set_defaults(func=run_analyze)


def run_analyze(args) -> int:
    from service.main import build_pipeline
    from service.vision.decode import decode_image
    from service.vision.errors import ImageError

    settings = Settings()
    pipeline = build_pipeline(settings)
    failures = 0
    for path in args.images:
        try:
            analysis = pipeline.analyze(decode_image(path.read_bytes(), max_pixels=settings.max_image_pixels))
        except (OSError, ImageError) as error:
            log.error("%s: %s", path, error)
            failures += 1
            continue
        print(_describe(path, analysis, as_json=args.json))
    return 1 if failures else 0


def _describe(path: Path, analysis, *, as_json: bool) -> str:
    faces = [{"box": [d.box.top, d.box.right, d.box.bottom, d.box.left], "label": d.label,
              "scores": {k: round(v, 4) for k, v in d.scores.items()}} for d in analysis.detections]
    if as_json:
        return json.dumps({"image": str(path), "faces": analysis.faces, "happy": analysis.happy,
                           "not_happy": analysis.not_happy, "unread": analysis.unread, "emotions": analysis.emotions,
                           "detections": faces})
    labels = ", ".join(d["label"] for d in faces) or "no faces"
    unread = f", {analysis.unread} too small to read" if analysis.unread else ""
    return f"{path}: {analysis.faces} face(s), {analysis.happy} happy{unread}: {labels}"


# --- agent ---------------------------------------------------------------------------------

def _add_agent(commands) -> None:
    from service.agent.cli import add_agent_parser

    add_agent_parser(commands)


# --- training ------------------------------------------------------------------------------

def _add_training(commands) -> None:
    from service.training.cli import add_ensemble_parser, add_evaluate_parser, add_export_parser, add_train_parser

    add_train_parser(commands)
    add_evaluate_parser(commands)
    add_ensemble_parser(commands)
    add_export_parser(commands)


def _add_calibrate(commands) -> None:
    from service.calibrations.cli import add_calibrate_parser

    add_calibrate_parser(commands)


# --- bench ---------------------------------------------------------------------------------

def _add_bench(commands) -> None:
    bench = commands.add_parser("bench", help="benchmarks: pipeline vs the seed, ingestion, queries",
                                description="Measurements, never tests; results go to BENCHMARKS.md. "
                                "pipeline: seed vs service on the sample frames; detect: each face detector's faces found and "
                                "false boxes on the samples, a composed street and the shared footage, and its ms per frame; ingest: concurrent "
                                "cameras posting to `happiness serve`; soak: 20,000 valid and hostile frames through two "
                                "workers, their memory sampled; query: index endpoints on a "
                                "synthetic year; agent: the edge agent's frames/s on one core and people "
                                "vs sightings on composed video; statistics: interval coverage, trend false "
                                "alarms and power by simulation, old method beside new.")
    bench.add_argument("suite", nargs="?", default="pipeline",
                       choices=("pipeline", "detect", "ingest", "query", "soak", "agent", "statistics"))
    bench.add_argument("--quick", action="store_true", help="a tiny run that only checks the harness works")
    bench.add_argument("--repeat", type=int, default=5, help="timed runs per frame or query")
    bench.add_argument("--samples", type=Path, help="folder of sample .jpg frames (default ../shared/samples)")
    bench.add_argument("--databases", default="sqlite,postgres", help="ingest/query: sqlite, postgres or both")
    bench.add_argument("--cameras", type=int, default=16, help="ingest: concurrent cameras")
    bench.add_argument("--frames", type=int, help="ingest: frames per run (400); soak: frames in all (20,000)")
    bench.add_argument("--detectors", default="blazeface,stub",
                       help="ingest: blazeface or hog (real frames, real detector), stub (API + database "
                       "overhead), comma-separated; soak: the first of them; "
                       "detect: detectors to compare (default seed,hog,blazeface; options after a colon, "
                       "separated by ';', e.g. 'blazeface;blazeface:min_score=0.7')")
    bench.add_argument("--locations", type=int, default=100, help="query: synthetic locations")
    bench.add_argument("--days", type=int, default=365, help="query: days of synthetic history")
    bench.add_argument("--out", type=Path, help="soak: folder for its plot and figures")
    bench.add_argument("--no-freeze", action="store_true",
                       help="query: time a process whose start-up objects are not frozen (workers before "
                            "HAPPINESS_FREEZE_STARTUP_OBJECTS), to measure what the freeze changes")
    bench.set_defaults(func=run_bench)


def run_bench(args) -> int:
    """The harness lives in bench/ beside service/, not in the installed package."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "bench").is_dir():
        log.error("bench/ not found beside %s: run from a checkout of the repository", root / "service")
        return 2
    sys.path.insert(0, str(root))
    from bench.run import run_suite

    return run_suite(args)


if __name__ == "__main__":
    sys.exit(main())
