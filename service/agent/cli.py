"""`happiness agent`: count people in a camera's video stream beside the camera and send the
server counts only (or, without the compute for that, post a frame every few seconds)."""

from __future__ import annotations

import argparse
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from service.agent.queue import MAX_PENDING_BATCHES
from service.agent.runtime import AgentConfig, Stopper

log = logging.getLogger("happiness.agent")
KEY_VARIABLE = "HAPPINESS_CAMERA_KEY"

DESCRIPTION = """Run beside a camera: read its video, and send the server counts of PEOPLE.

people mode (default): every sampled frame goes through the service's own face detector and
expression classifier; faces are followed from frame to frame (ByteTrack), and each person is
counted ONCE, in the server bucket where they were last seen: happy when at least a third of
their readable frames are decided happy, else the most probable other class over their frames.
A face too small to read is followed too: a person never seen large enough to read counts as
unread (seen, never in the index). Per bucket the agent sends: people, happy, per-emotion
counts, unread, sightings (faces in all analysed frames, read or not) and frames. No image,
crop, face box or embedding leaves the agent or touches its disk: the queue holds counts only.

frames mode: no analysis here; one frame every --frame-interval seconds is posted to the
server's /frames endpoint (kept only in memory meanwhile), and the server counts each face of
each frame: a person who stays in view across several posted frames is counted several times,
so post less often than people linger.

Delivery: counts wait in a small SQLite queue (--queue) until the server confirms them; the
agent retries with exponential backoff and honours 429/503 Retry-After; killed and restarted,
it sends what was not confirmed, and the server never counts a batch twice.

A file source is read as fast as the machine allows, stamped as a recording that ended when the
agent started (or began at --start), and the agent exits once every count is delivered.
Streams run until stopped (SIGTERM or Ctrl-C: current tracks are decided and queued)."""

EPILOG = f"""examples:
  {KEY_VARIABLE}=hcam_... happiness agent --source rtsp://user:pass@10.0.0.7/stream1 \\
      --server https://happiness.example.org --location 3
  happiness agent --source http://camera.local/video.mjpg --server http://127.0.0.1:8000 \\
      --location 1 --key hcam_... --fps 4
  happiness agent --source recording.mp4 --start 2026-12-01T09:00:00Z --server ... --location 1 --key ...
  happiness agent --source 0 --mode frames --frame-interval 30 --server ... --location 1 --key ...

exit status: 0 done (or stopped on request), 2 the server refuses the key, URL or location
(the queued counts are kept), 3 counts still undelivered after --drain-timeout, 4 the server
refused some batches for good (the summary names them and their people; they are not counted)."""


def add_agent_parser(commands) -> None:
    agent = commands.add_parser("agent", help="count people in a camera's video beside the camera; send counts only",
                                description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    where = agent.add_argument_group("where from and to")
    where.add_argument("--source", required=True, metavar="SRC",
                       help="a video file, an rtsp:// or http(s):// stream (e.g. MJPEG), or a camera device index "
                            "such as 0; set OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp for RTSP over TCP")
    where.add_argument("--server", required=True, metavar="URL", help="the service's base URL, e.g. http://10.0.0.2:8000")
    where.add_argument("--location", required=True, type=int, metavar="ID", help="the location's id on the server")
    where.add_argument("--key", default=os.environ.get(KEY_VARIABLE), metavar="KEY",
                       help=f"the camera key of that location (default: ${KEY_VARIABLE}; the variable keeps the "
                            "key out of the process list)")
    how = agent.add_argument_group("what to count")
    how.add_argument("--mode", choices=("people", "frames"), default="people",
                     help="people: analyse here, send counts (default); frames: post a frame every --frame-interval s")
    how.add_argument("--fps", type=_positive, default=5.0,
                     help="people mode: frames analysed per second (default 5); a face must be seen in "
                          "--min-track-frames of them to count, so keep fps x the time people are in view well above it")
    how.add_argument("--min-track-frames", type=int, default=3, metavar="N",
                     help="a track seen in fewer analysed frames is noise (a false detection, a passer-by at the edge) "
                          "and is dropped; dropped tracks are counted in the log (default 3)")
    how.add_argument("--track-patience", type=_positive, default=3.0, metavar="SECONDS",
                     help="how long a face may go unseen (turned away, hidden by another) and still be the same "
                          "person; longer merges people who pass the same spot in quick succession (default 3)")
    how.add_argument("--min-face-px", type=int, metavar="PX",
                     help="smallest face height to look for, in pixels (default: HAPPINESS_MIN_FACE_PX or 48); "
                          "smaller costs more time per frame")
    how.add_argument("--frame-interval", type=_positive, default=10.0, metavar="SECONDS",
                     help="frames mode: seconds between posted frames (default 10); longer than people usually "
                          "linger, or each lingering person is counted several times")
    how.add_argument("--start", type=_utc_time, metavar="ISO",
                     help="file source: when the recording began (ISO-8601, e.g. 2026-12-01T09:00:00Z); default: "
                          "it ended when the agent started")
    delivery = agent.add_argument_group("delivery")
    delivery.add_argument("--queue", type=Path, default=Path("data/agent-queue.db"), metavar="PATH",
                          help="people mode: the SQLite file where counts wait until confirmed (default "
                               "data/agent-queue.db); keep it on persistent storage")
    delivery.add_argument("--queue-max-batches", type=int, default=MAX_PENDING_BATCHES, metavar="N",
                          help=f"people mode: batches the queue holds for the server (default {MAX_PENDING_BATCHES:,}, "
                               "over a year of 15-minute buckets); warnings from half full on, and when full the "
                               "oldest batch is dropped")
    delivery.add_argument("--bucket-minutes", type=int, metavar="N",
                          help="the server's bucket width; default: asked from the server's /health at start")
    delivery.add_argument("--drain-timeout", type=float, default=0.0, metavar="SECONDS",
                          help="file source: how long to wait at the end for the server to confirm everything "
                               "(default 0: as long as it takes); what is left stays queued for the next run")
    delivery.add_argument("--frame-buffer", type=int, default=30, metavar="N",
                          help="frames mode: frames held in memory while the server is away (default 30)")
    delivery.add_argument("--frame-max-age", type=_positive, default=300.0, metavar="SECONDS",
                          help="frames mode: a frame not delivered within this long is dropped (default 300)")
    agent.set_defaults(func=run_agent)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _utc_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text}") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def config_of(args) -> AgentConfig:
    if not args.key:
        raise SystemExit(f"happiness agent: a camera key is needed: --key or ${KEY_VARIABLE}")
    return AgentConfig(source=args.source, server=args.server, location_id=args.location, key=args.key,
                       mode=args.mode, fps=args.fps, min_track_frames=args.min_track_frames,
                       track_patience=args.track_patience, queue=args.queue, queue_max_batches=args.queue_max_batches,
                       start=args.start,
                       bucket_minutes=args.bucket_minutes, frame_interval=args.frame_interval,
                       frame_buffer=args.frame_buffer, frame_max_age=args.frame_max_age,
                       min_face_px=args.min_face_px, drain_timeout=args.drain_timeout)


def run_agent(args) -> int:
    from service.agent.source import SourceError, check_source

    for noisy in ("httpx", "alembic"):  # a line per request, or per migration plugin, would bury the summaries
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = config_of(args)
    stop = Stopper()
    stop.install()
    try:
        check_source(config.source)
        if config.mode == "frames":
            from service.agent.frames import run_frames

            return run_frames(config, stop)
        from service.agent.counting import run_people

        return run_people(config, stop)
    except SourceError as error:
        log.error("%s", error)
        return 2
