"""People mode: the service's own detector and classifier on each sampled frame, faces tracked
across frames, each person counted once with the expression of all their frames, and per bucket
an observation queued durably and sent to POST /locations/{id}/observations."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from service.agent.decisions import BucketBook, BucketTally, Person
from service.agent.queue import KEEP_DONE_DAYS, DurableQueue
from service.agent.runtime import (SUMMARY_EVERY_S, AgentConfig, Every, Stopper, open_client, server_bucket_minutes,
                                   utc_now, wait_for_delivery)
from service.agent.sender import Delivery, QueuedBatches, SenderThread
from service.agent.source import describe, is_live, open_source

log = logging.getLogger("happiness.agent")

MAX_REFUSALS_LISTED = 10


@dataclass
class Minute:
    """Counts since the last summary line."""

    frames: int = 0
    sightings: int = 0
    people: int = 0
    happy: int = 0
    unread: int = 0
    batches: int = 0
    detect_ms: float = 0.0
    classify_ms: float = 0.0


class PeopleCounter:
    """The per-frame work, between the source and the queue."""

    def __init__(self, pipeline, tracker, book: BucketBook, enqueue) -> None:
        self.pipeline, self.tracker, self.book, self.enqueue = pipeline, tracker, book, enqueue
        self.minute = Minute()

    def analyse(self, sample) -> None:
        import cv2

        conversion = cv2.COLOR_BGR2GRAY if self.pipeline.takes_gray else cv2.COLOR_BGR2RGB
        analysis = self.pipeline.analyze(cv2.cvtColor(sample.frame, conversion))
        self.book.add_frame(sample.moment, analysis.sightings)
        self._count(self.tracker.update(sample.moment, analysis.detections, analysis.unread_boxes))
        minute = self.minute
        minute.frames += 1
        minute.sightings += analysis.sightings
        minute.detect_ms += analysis.timings_ms.get("detect", 0.0)
        minute.classify_ms += analysis.timings_ms.get("classify", 0.0)

    def _count(self, people: list[Person]) -> None:
        for person in people:
            self.book.add_person(person)
            if person.unread:
                self.minute.unread += 1
                continue
            self.minute.people += 1
            self.minute.happy += person.label == "happy"

    def close_buckets(self, now) -> None:
        """Queue every bucket that is over and holds no undecided person."""
        for tally in self.book.closed(now, self.tracker.oldest_live):
            self._queue(tally)

    def finish(self) -> None:
        """Decide every live track and queue every open bucket (end of the source, or a stop)."""
        self._count(self.tracker.finish_all())
        for tally in self.book.all():
            self._queue(tally)

    def _queue(self, tally: BucketTally) -> None:
        if tally.frames:
            self.enqueue(tally)
            self.minute.batches += 1


def run_people(config: AgentConfig, stop: Stopper) -> int:
    from service.agent.tracking import FaceTracker

    client = open_client(config)
    minutes = config.bucket_minutes or server_bucket_minutes(client, stop)
    if minutes is None:
        return 0
    pipeline = _pipeline(config)
    source = open_source(config.source, config.fps, config.start)
    queue = open_queue(config)
    started = queue.clock()
    _report_queue(queue, config)
    delivery = Delivery(lambda: QueuedBatches(open_queue(config), client, config.url("observations")))
    sender = SenderThread(delivery.deliver_due)
    interval = timedelta(seconds=1 / config.fps)

    def enqueue(tally: BucketTally) -> None:
        batch_id = f"agent-{uuid.uuid4().hex}"  # new per flush: a restarted agent's counts are new counts
        queue.add(batch_id, {"batch_id": batch_id, "observations": [tally.observation(interval)]})
        log.info("queued %s: %d people (%d happy), %d unread (too small to read), %d sightings, %d frames in "
                 "the bucket from %s", batch_id, tally.people, tally.emotions["happy"], tally.unread,
                 tally.sightings, tally.frames, tally.start.strftime("%Y-%m-%d %H:%M"))
        sender.wake()

    tracker = FaceTracker(pipeline.classifier.classes, config.fps, config.track_patience, config.min_track_frames)
    counter = PeopleCounter(pipeline, tracker, BucketBook(minutes), enqueue)
    log.info("counting people in %s at %g frames/s into %d-minute buckets for location %d",
             describe(config.source), config.fps, minutes, config.location_id)
    sender.start()
    try:
        _loop(source, counter, delivery, sender, stop, config)
        counter.finish()
        return _drain(queue, delivery, sender, stop, config, tracker.noise, started)
    finally:
        source.close()
        sender.stop()


def open_queue(config: AgentConfig) -> DurableQueue:
    return DurableQueue(config.queue, config.target, max_pending=config.queue_max_batches)


def _pipeline(config: AgentConfig):
    """The serving pipeline as `happiness serve` would build it from the same settings, built
    from vision (the agent never loads the web app)."""
    from service.config import Settings
    from service.vision.pipeline import build_pipeline

    overrides = {"min_face_px": config.min_face_px} if config.min_face_px else {}
    settings = Settings(**overrides)
    return build_pipeline(settings.model_dir, settings.detector, min_face_px=settings.min_face_px,
                          max_width=settings.max_working_width, min_readable_face_px=settings.min_readable_face_px)


def _loop(source, counter: PeopleCounter, delivery: Delivery, sender: SenderThread, stop: Stopper,
          config: AgentConfig) -> None:
    summary = Every()
    live = is_live(config.source)
    for sample in source.samples():
        if stop.requested or sender.stopped_by is not None:
            return
        if sample is not None:
            counter.analyse(sample)
        # a file's buckets close on its own timeline; a stream's on the clock, frames or not
        counter.close_buckets(utc_now() if live or sample is None else sample.moment)
        if summary.due():
            _summarise(counter, source, delivery, live, config.fps)


def _summarise(counter: PeopleCounter, source, delivery: Delivery, live: bool, fps: float) -> None:
    minute, counter.minute = counter.minute, Minute()
    if live and minute.frames < 0.8 * fps * SUMMARY_EVERY_S:
        log.warning("analysed %.1f frames/s of the %g asked: this machine is too slow for --fps; people who "
                    "move fast may be split into several tracks (lower --fps, or raise --min-face-px)",
                    minute.frames / SUMMARY_EVERY_S, fps)
    stats, tracker = delivery.stats.take(), counter.tracker
    per_frame = (f"{minute.detect_ms / minute.frames:.0f} ms detect + {minute.classify_ms / minute.frames:.0f} ms "
                 "classify a frame") if minute.frames else "no frames"
    progress = f"; {source.progress:.0%} of the video read" if source.progress is not None else ""
    log.info("last minute: %d frames analysed (%s), %d sightings, %d people decided (%d happy), %d people unread "
             "(too small to read), %d tracks live, %d short tracks dropped as noise so far; %d batches queued, "
             "%d delivered, %d retries, %d refused%s",
             minute.frames, per_frame, minute.sightings, minute.people, minute.happy, minute.unread, len(tracker.live),
             tracker.noise, minute.batches, stats.delivered, stats.retries, stats.refused, progress)


def _report_queue(queue: DurableQueue, config: AgentConfig) -> None:
    counts = queue.counts()
    if counts.pending:
        log.info("%d batch(es) from an earlier run wait in %s: sending them first", counts.pending, config.queue)
    others = queue.other_targets_pending()
    if others:
        log.warning("%d batch(es) in %s belong to another server or location and are not sent from here",
                    others, config.queue)
    queue.prune()


def _drain(queue: DurableQueue, delivery: Delivery, sender: SenderThread, stop: Stopper, config: AgentConfig,
           noise: int, started: float) -> int:
    """Exit status: 0 all delivered (or stopped on request), 2 the server refuses this agent,
    3 batches still wait after --drain-timeout, 4 the server refused some batches for good."""
    left = wait_for_delivery(lambda: queue.counts().pending, sender, stop, config.drain_timeout)
    refused = report_refusals(queue, started)
    if sender.stopped_by is not None:
        log.error("delivery stopped: %s; %d batch(es) stay queued in %s", sender.stopped_by, left, config.queue)
        return 2
    if left:
        log.warning("%d batch(es) not confirmed yet stay queued in %s: the next run sends them", left, config.queue)
        return 0 if stop.requested else 3
    counts = queue.counts()
    log.info("done: every batch delivered (%d confirmed, %d refused in the queue's last %d days); %d short tracks "
             "dropped as noise", counts.confirmed, counts.rejected, KEEP_DONE_DAYS, noise)
    return 4 if refused else 0


def report_refusals(queue: DurableQueue, since: float) -> int:
    """Log, as errors, the batches the server refused for good since `since`, with their people
    and the server's reason; answers how many. Those people are not in the index: an operator
    must know, not find out from a total that is too low."""
    refusals = queue.refusals(since)
    if refusals:
        log.error("the server refused %d batch(es) for good in this run, holding %d people, who are NOT counted:",
                  len(refusals), sum(refusal.people for refusal in refusals))
    for refusal in refusals[:MAX_REFUSALS_LISTED]:
        log.error("  refused %s (%d people): %s", refusal.batch_id, refusal.people, refusal.error)
    if len(refusals) > MAX_REFUSALS_LISTED:
        log.error("  and %d more: see the rejected rows of %s", len(refusals) - MAX_REFUSALS_LISTED, queue.path)
    return len(refusals)
