"""`happiness locations pause|resume ID` and `happiness cameras pause|resume LOCATION CAMERA`."""

from __future__ import annotations

from service.security.actors import CLI
from service.pauses.schemas import PauseOut


def add_pause_actions(actions, cameras: bool = False) -> None:
    """Add pause and resume to the `locations` (or, with `cameras`, the `cameras`) actions."""
    what = "camera" if cameras else "location"
    pause = actions.add_parser("pause", help=f"pause a {what}: its frames are refused (423) until resumed",
                               description=f"Pause a {what}: frames and observations are refused with 423 "
                               "and nothing is counted until it is resumed; the period shows as a gap in the "
                               "index series. Recorded in the audit log.")
    resume = actions.add_parser("resume", help=f"end a {what}'s pause")
    for parser in (pause, resume):
        parser.add_argument("location_id", type=int)
        if cameras:
            parser.add_argument("camera_id", type=int)
    pause.add_argument("--reason", help="why (kept in the pause history and the audit log)")
    pause.set_defaults(func=run_pause, cameras=cameras)
    resume.set_defaults(func=run_resume, cameras=cameras)


def run_pause(args) -> int:
    from service.db.sessions import session_scope
    from service.pauses import service

    with session_scope() as session:
        if args.cameras:
            pause = service.pause_camera(session, args.location_id, args.camera_id, args.reason, CLI)
        else:
            pause = service.pause_location(session, args.location_id, args.reason, CLI)
        print(PauseOut.model_validate(pause).model_dump_json(indent=2))
    return 0


def run_resume(args) -> int:
    from service.db.sessions import session_scope
    from service.pauses import service

    with session_scope() as session:
        if args.cameras:
            pause = service.resume_camera(session, args.location_id, args.camera_id, CLI)
        else:
            pause = service.resume_location(session, args.location_id, CLI)
        print(PauseOut.model_validate(pause).model_dump_json(indent=2))
    return 0
