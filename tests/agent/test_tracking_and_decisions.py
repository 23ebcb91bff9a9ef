"""Tracking and the per-bucket decisions on constructed detections with known answers: a face
followed across frames is one person, happy when at least a third of its readable frames are
decided happy, else the most probable other class of its mean probabilities, counted in the
bucket where it was last seen; a face never large enough to read is one unread person; short
tracks are noise; a bucket waits for its people."""

from datetime import UTC, datetime, timedelta

import numpy as np

from service.agent.decisions import BucketBook, Person, expression
from service.agent.tracking import FaceTracker
from service.vision.classifier import decide
from service.vision.detectors.base import FaceBox
from service.vision.pipeline import Detection

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
T0 = datetime(2026, 12, 3, 9, 14, 50, tzinfo=UTC)
STEP = timedelta(seconds=0.2)  # 5 frames/s


def face(left: int, top: int = 100, size: int = 80, threshold: float | None = 0.49, **scores: float) -> Detection:
    """A read face labelled as the pipeline labels it: the served rule at the model's threshold."""
    probabilities = {c: scores.get(c, 0.0) for c in CLASSES}
    if not scores:
        probabilities["neutral"] = 1.0
    label = CLASSES[int(decide(np.array([[probabilities[c] for c in CLASSES]]), CLASSES, threshold)[0])]
    return Detection(FaceBox(top, left + size, top + size, left), label, probabilities)


def small(left: int, top: int = 100, size: int = 16) -> FaceBox:
    """A face box too small to read: the pipeline's unread boxes."""
    return FaceBox(top, left + size, top + size, left)


def run(tracker: FaceTracker, frames: list[list[Detection]], start: datetime = T0,
        unread: list[list[FaceBox]] | None = None) -> list[Person]:
    """Feed the frames' read detections (and, per frame, `unread` boxes); every person found."""
    people = []
    unread = unread or [[] for _ in frames]
    for number, (detections, boxes) in enumerate(zip(frames, unread, strict=True)):
        people += tracker.update(start + number * STEP, detections, boxes)
    return people + tracker.finish_all()


def test_a_face_walking_across_twenty_frames_is_one_person():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    people = run(tracker, [[face(20 + 12 * n)] for n in range(20)])
    assert len(people) == 1 and people[0].frames >= 18  # the first sighting has no id yet
    assert people[0].last_seen == T0 + 19 * STEP


def test_two_faces_are_two_people_and_a_gap_within_patience_is_bridged():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    frames = [[face(20 + 10 * n), face(500 - 10 * n, top=300)] for n in range(12)]
    frames[5] = frames[6] = [frames[5][1]]  # the first face unseen for two frames (0.4 s)
    assert len(run(tracker, frames)) == 2


def test_a_face_gone_longer_than_patience_comes_back_as_another_person():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    frames = [[face(100)]] * 6 + [[]] * 8 + [[face(100)]] * 6  # 1.6 s unseen
    assert len(run(tracker, frames)) == 2


def test_short_tracks_are_dropped_as_noise():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=0.6, min_frames=3)
    frames = [[face(100)], [face(100)], [], [], [], [], [face(400)] * 1] + [[face(400)]] * 6
    people = run(tracker, frames)
    assert len(people) == 1 and tracker.noise == 1


NEUTRAL = {"happy": 0.05, "neutral": 0.9, "sad": 0.05}
SMILE = {"happy": 0.9, "neutral": 0.1}


def test_a_person_who_smiles_in_a_third_of_their_frames_is_happy():
    # 4 smiling frames of 12: mean p(happy) 0.33, under the model's threshold, which the mean
    # of the frames would have decided not happy
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    frames = [[face(100, **NEUTRAL)]] * 4 + [[face(100, **SMILE)]] * 4 + [[face(100, **NEUTRAL)]] * 4
    [person] = run(tracker, frames)
    assert person.frames == 12 and person.label == "happy"


def test_a_smile_in_less_than_a_third_of_the_frames_is_not_happy():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    frames = [[face(100, **NEUTRAL)]] * 9 + [[face(100, **SMILE)]] * 3  # a quarter of the frames
    assert [p.label for p in run(tracker, frames)] == ["neutral"]


def test_one_misread_frame_in_a_long_never_smiling_track_is_not_happy():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    frames = [[face(100, **NEUTRAL)]] * 12 + [[face(100, happy=0.97, neutral=0.03)]] + [[face(100, **NEUTRAL)]] * 12
    assert [p.label for p in run(tracker, frames)] == ["neutral"]


def test_short_tracks_are_happy_from_a_third_of_their_frames():
    total = np.array([0, 0, 0, 0.1, 0.6, 0.3, 0])  # one frame's worth of probabilities
    assert expression(total, 1, CLASSES, 1) == "happy"
    assert expression(total, 0, CLASSES, 1) == "neutral"
    assert expression(2 * total, 1, CLASSES, 2) == "happy"
    assert expression(3 * total, 1, CLASSES, 3) == "happy"  # exactly a third
    assert expression(3 * total, 0, CLASSES, 3) == "neutral"
    assert expression(4 * total, 1, CLASSES, 4) == "neutral"  # a quarter
    assert expression(4 * total, 2, CLASSES, 4) == "happy"


def test_a_person_not_happy_takes_the_most_probable_other_class_of_the_mean():
    # the mean leans happy (argmax), but no frame was decided happy: the label is the next class
    assert expression(np.array([0.1, 0, 0, 2.5, 0.9, 1.5, 0]), 0, CLASSES, 5) == "sad"
    assert expression(np.array([0.1, 0, 0, 2.0, 2.5, 0, 0]), 1, CLASSES, 5) == "neutral"


def test_each_frame_counts_as_the_pipeline_labelled_it():
    # p(happy) 0.6 under a model whose threshold is 0.7: the pipeline labels the frame neutral,
    # and the tracker must not decide it again by the argmax
    leaning = {"happy": 0.6, "neutral": 0.3, "sad": 0.1}
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    assert [p.label for p in run(tracker, [[face(100, threshold=0.7, **leaning)]] * 5)] == ["neutral"]
    # p(happy) 0.4 under a threshold of 0.35: labelled happy although another class is likelier
    shy = {"happy": 0.4, "neutral": 0.35, "sad": 0.25}
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    assert [p.label for p in run(tracker, [[face(100, threshold=0.35, **shy)]] * 5)] == ["happy"]


def test_a_person_counts_in_the_bucket_where_last_seen_and_sightings_where_seen():
    book = BucketBook(15)
    first_bucket = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    for number in range(100):  # 20 s across 09:15
        book.add_frame(T0 + number * STEP, sightings=1)
    book.add_person(Person(last_seen=T0 + 99 * STEP, frames=100, label="happy"))
    early, late = book.all()
    assert (early.start, early.people, early.sightings, early.frames) == (first_bucket, 0, 50, 50)
    assert (late.start, late.people, late.sightings) == (first_bucket + timedelta(minutes=15), 1, 50)
    observation = late.observation(STEP)
    assert observation["start"] == "2026-12-03T09:15:00.000Z" and observation["end"] == "2026-12-03T09:15:10.000Z"
    assert (observation["people"], observation["happy"], sum(observation["emotions"].values())) == (1, 1, 1)


def test_a_bucket_closes_only_when_no_live_track_was_last_seen_in_it():
    book = BucketBook(15)
    book.add_frame(T0, sightings=1)
    after_end = T0 + timedelta(seconds=20)
    assert book.closed(after_end, oldest_live=T0) == []  # someone seen at 09:14:50 is still undecided
    [closed] = book.closed(after_end, oldest_live=None)
    assert closed.frames == 1 and book.all() == []


def test_a_tracker_keeps_counts_and_sums_only():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    for number in range(3):
        tracker.update(T0 + number * STEP, [face(100)])
    [track] = tracker.live.values()
    assert set(vars(track)) == {"frames", "read_frames", "probability_sum", "happy_frames", "last_seen",
                                "last_update"}
    assert track.probability_sum.shape == (len(CLASSES),)


def test_a_face_too_small_in_every_frame_is_one_unread_person():
    # a face far away walks across 20 frames, never large enough to read: seen, never read
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    people = run(tracker, [[] for _ in range(20)], unread=[[small(20 + 6 * n)] for n in range(20)])
    assert len(people) == 1 and people[0].unread and people[0].label is None
    assert people[0].frames >= 18 and people[0].last_seen == T0 + 19 * STEP


def test_a_face_that_grows_readable_is_read_from_its_readable_frames_only():
    # the same face: unread while far (10 frames), then near and readable, leaning happy (10 frames)
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    far = [[small(100 + 2 * n, size=20 + n)] for n in range(10)]
    near = [[face(100 + 2 * n, size=30 + n, happy=0.7, sad=0.3)] for n in range(10, 20)]
    people = run(tracker, [[]] * 10 + near, unread=far + [[]] * 10)
    assert [(p.label, p.unread) for p in people] == [("happy", False)]
    assert people[0].frames >= 18  # one track: its unread frames belong to the same person


def test_read_and_unread_faces_of_one_frame_are_separate_people():
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    people = run(tracker, [[face(100, sad=1.0)]] * 8, unread=[[small(500, top=300)]] * 8)
    assert sorted((p.label or "unread") for p in people) == ["sad", "unread"]


def test_unread_people_count_as_unread_not_as_people():
    book = BucketBook(15)
    for number in range(10):
        book.add_frame(T0 + number * STEP, sightings=2)
    book.add_person(Person(last_seen=T0 + 9 * STEP, frames=10, label="sad"))
    book.add_person(Person(last_seen=T0 + 9 * STEP, frames=10, label=None))
    [tally] = book.all()
    observation = tally.observation(STEP)
    assert (observation["people"], observation["unread"], observation["sightings"]) == (1, 1, 20)
    assert sum(observation["emotions"].values()) == 1 and observation["happy"] == 0


class FarAndNearPipeline:
    """Stands in for detection + classification: each frame has one face too small to read at the
    left and one readable, sad face at the right, both standing still."""

    takes_gray = True

    def analyze(self, gray: np.ndarray):
        from service.vision.pipeline import summarize

        return summarize([face(400, sad=1.0)], CLASSES, {"detect": 1.0, "classify": 1.0}, [small(40)])


def test_the_counter_tracks_unread_faces_and_queues_them_as_unread(caplog):
    import logging
    from types import SimpleNamespace

    from service.agent.counting import PeopleCounter, _summarise
    from service.agent.source import Sample

    queued = []
    tracker = FaceTracker(CLASSES, fps=5, patience_s=1.0, min_frames=3)
    counter = PeopleCounter(FarAndNearPipeline(), tracker, BucketBook(15), queued.append)
    for number in range(10):
        counter.analyse(Sample(T0 + number * STEP, np.zeros((480, 640, 3), np.uint8)))
    counter.finish()
    [observation] = [tally.observation(STEP) for tally in queued]
    assert (observation["people"], observation["unread"]) == (1, 1)
    assert (observation["emotions"]["sad"], observation["sightings"], observation["frames"]) == (1, 20, 10)
    # the minute's summary line: a file source without progress, a delivery that sent nothing
    source = SimpleNamespace(progress=None)
    nothing_sent = SimpleNamespace(delivered=0, retries=0, refused=0)
    delivery = SimpleNamespace(stats=SimpleNamespace(take=lambda: nothing_sent))
    with caplog.at_level(logging.INFO, logger="happiness.agent"):
        _summarise(counter, source, delivery, live=False, fps=5)
    assert "20 sightings, 1 people decided (0 happy), 1 people unread (too small to read)" in caplog.text
