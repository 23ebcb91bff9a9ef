"""A person who smiles for part of their walk, on composed video through the agent's real
detector, model and tracker: counted happy when the smile covers at least a third of their
frames (service/agent/decisions.py), where the mean of their probabilities said not happy."""

from __future__ import annotations

import pytest

from support import require_samples

pytestmark = pytest.mark.slow

SECONDS, VIDEO_FPS, AGENT_FPS = 9.0, 10.0, 5.0


def test_a_walker_who_smiles_for_part_of_the_walk_is_counted_happy(tmp_path):
    import cv2

    from bench.scenes import Scene, Walk, faces, write_video
    from service.agent.source import FileSource
    from service.agent.tracking import FaceTracker
    from service.config import Settings
    from service.main import build_pipeline

    samples = require_samples()
    # the same man without and with a smile, and a man who never smiles (picked by eye)
    plain, smiling, other = (faces((samples / photo,))[1] for photo in
                             ("biden.jpg", "obama_and_biden.jpg", "johnsnow_test1.jpg"))
    # two rows that never cross; the smile covers the middle two fifths of the walk (a little
    # over a third, so that the sampling phase or one misread frame does not decide the test)
    walks = (Walk(0, 0.0, SECONDS, (0.15, 0.3), (0.85, 0.3), 80, 90, episode=(1, 0.3, 0.7)),
             Walk(2, 0.0, SECONDS, (0.85, 0.72), (0.15, 0.72), 80, 90))
    video = tmp_path / "walk.avi"
    write_video(video, Scene(walks, SECONDS), (plain, smiling, other), (640, 360), VIDEO_FPS)

    pipeline = build_pipeline(Settings(detector="blazeface"))
    classes = pipeline.classifier.classes
    tracker = FaceTracker(classes, AGENT_FPS)
    source, people, mean_happy = FileSource(str(video), AGENT_FPS), [], {}
    for sample in source.samples():
        conversion = cv2.COLOR_BGR2GRAY if pipeline.takes_gray else cv2.COLOR_BGR2RGB
        analysis = pipeline.analyze(cv2.cvtColor(sample.frame, conversion))
        people += tracker.update(sample.moment, analysis.detections, analysis.unread_boxes)
        for track_id, track in tracker.live.items():
            mean_happy[track_id] = track.probability_sum[classes.index("happy")] / max(1, track.read_frames)
    people += tracker.finish_all()
    source.close()

    assert len(people) == 2 and all(person.frames >= 40 for person in people)
    assert sorted(person.label == "happy" for person in people) == [False, True]
    # the happy walker's mean p(happy) stays under the model's threshold: the mean would miss them
    assert max(mean_happy.values()) < pipeline.classifier.happy_threshold
