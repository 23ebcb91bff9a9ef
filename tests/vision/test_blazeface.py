"""The default detector: its decode and suppression against worked answers, the pyramid and tiles
it searches, the committed weights, and the real network on real and composed frames."""

from __future__ import annotations

import hashlib
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.vision.detectors import FaceBox, build_detector
from service.vision.detectors import blazeface as bf
from support import SAMPLE_FACE_HEIGHTS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ for the composed street scene


def anchor_index(row: int, column: int) -> int:
    return row * bf.GRID + column


# --- decode and suppression (pure) ----------------------------------------------------


def test_anchors_are_cell_centres_row_by_row():
    assert bf.ANCHORS.shape == (2304, 2)
    assert bf.ANCHORS[0] == pytest.approx((0.5 / 48, 0.5 / 48))
    assert bf.ANCHORS[anchor_index(10, 20)] == pytest.approx((20.5 / 48, 10.5 / 48))


def test_decode_turns_offsets_into_boxes_and_eyes_in_input_pixels():
    raw, logits = np.zeros((2304, 16), np.float32), np.full(2304, -10.0, np.float32)
    index = anchor_index(10, 20)  # anchor centre (82, 42) in input pixels
    raw[index, :8] = [4, -2, 30, 36, -6, -5, 7, -4]  # centre offset, width, height, right eye, left eye
    logits[index] = 2.0
    boxes, scores, eyes = bf.decode(raw, logits, min_score=0.6)
    np.testing.assert_allclose(boxes, [[71, 22, 101, 58]], atol=1e-4)
    assert scores == pytest.approx([1 / (1 + np.exp(-2.0))])
    np.testing.assert_allclose(eyes, [[[76, 37], [89, 38]]], atol=1e-4)


def test_decode_drops_anchors_below_the_score_threshold():
    raw, logits = np.zeros((2304, 16), np.float32), np.full(2304, -10.0, np.float32)
    logits[[5, 6]] = [0.0, 1.0]  # scores 0.5 and 0.73
    boxes, scores, _ = bf.decode(raw, logits, min_score=0.6)
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.7311, abs=1e-4)
    assert len(bf.decode(raw, np.full(2304, 500.0, np.float32), 0.6)[0]) == 2304  # no overflow


def test_weighted_nms_averages_a_group_by_score_and_keeps_apart_what_does_not_overlap():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    eyes = np.array([[[2, 3], [8, 3]], [[3, 4], [9, 4]], [[52, 53], [58, 53]]], np.float32)
    kept, kept_scores, kept_eyes = bf.weighted_nms(boxes, scores, eyes)
    assert kept_scores.tolist() == pytest.approx([0.9, 0.7])  # the best first, with its own score
    assert kept[0].tolist() == pytest.approx([0.6, 0.6, 10.6, 10.6])  # (0.6 * 0 + 0.9 * 1) / 1.5
    np.testing.assert_allclose(kept_eyes[0], [[2.6, 3.6], [8.6, 3.6]], atol=1e-5)
    assert kept[1].tolist() == pytest.approx([50, 50, 60, 60])


def test_weighted_nms_drops_a_less_confident_box_inside_a_kept_face_but_not_a_more_confident_one():
    face, part = [0, 0, 100, 100], [30, 30, 50, 50]  # IoU 0.04: no group, but the part lies inside
    eyes = np.zeros((2, 2, 2), np.float32)
    kept, scores, _ = bf.weighted_nms(np.array([face, part], np.float32), np.array([0.9, 0.7], np.float32), eyes)
    assert kept.tolist() == [face] and scores.tolist() == pytest.approx([0.9])
    kept, _, _ = bf.weighted_nms(np.array([face, part], np.float32), np.array([0.7, 0.9], np.float32), eyes)
    assert len(kept) == 2  # a confident small face in front of a doubtful large box stays


def test_weighted_nms_of_nothing_is_nothing():
    kept, scores, eyes = bf.weighted_nms(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2, 2)))
    assert kept.shape == (0, 4) and scores.shape == (0,) and eyes.shape == (0, 2, 2)


# --- the pyramid and its tiles (pure) -----------------------------------------------------


def test_pyramid_goes_from_the_smallest_face_to_the_whole_frame():
    scales = bf.pyramid(1280, 720, min_face_px=36, max_width=4000)
    assert scales[0] == pytest.approx(bf.NATIVE_FACE_PX / 36)
    assert scales[-1] == pytest.approx(192 / 1280)
    ratios = [a / b for a, b in zip(scales, scales[1:])]
    assert all(1 < ratio <= bf.PYRAMID_STEP + 1e-9 for ratio in ratios)


def test_pyramid_caps_the_finest_scale_at_max_width_on_the_longer_side():
    assert bf.pyramid(1920, 1080, min_face_px=12, max_width=640)[0] == pytest.approx(640 / 1920)
    assert bf.pyramid(1080, 1920, min_face_px=12, max_width=640)[0] == pytest.approx(640 / 1920)  # portrait
    assert bf.pyramid(320, 240, min_face_px=200, max_width=640) == [pytest.approx(192 / 320)]


@pytest.mark.parametrize(("size", "smallest", "calls"), [((480, 270), 15, 11), ((1280, 720), 40, 11),
                                                       ((1920, 1080), 60, 11), ((320, 240), 12, 10)])
def test_default_reach_and_cost_per_frame_size(size, smallest, calls):
    detector = build_detector("blazeface")
    assert detector.smallest_face_px(*size) == pytest.approx(smallest)
    assert detector.calls(*size) == calls


@pytest.mark.parametrize("length", [100, 192, 193, 400, 641, 1707])
def test_tiles_cover_the_length_and_neighbours_share_the_overlap(length):
    starts = bf.tile_starts(length)
    assert starts[0] == 0 and starts[-1] + bf.INPUT_PX >= length
    assert all(b - a <= bf.INPUT_PX - bf.TILE_OVERLAP for a, b in zip(starts, starts[1:]))


def test_a_tile_knows_which_of_its_edges_lie_inside_the_frame():
    grid = bf.tiles(400, 200, scale=1.0)  # 3 x 2 tiles
    assert len(grid) == 6
    first, last = grid[0], grid[-1]
    assert first.inner_edges == (False, False, True, True)
    assert last.inner_edges == (True, True, False, False)


def test_a_box_cut_by_an_inner_edge_is_left_to_a_neighbour_but_kept_at_the_frame_edge():
    tile = bf.Tile(1.0, 0, 0, (False, False, True, False))  # only the right edge is inside the frame
    boxes = np.array([[0, 10, 30, 40], [170, 10, 192, 40], [100, 170, 130, 192]], np.float32)
    assert bf.cut_by_inner_edge(boxes, tile).tolist() == [False, True, False]


def test_tile_boxes_map_back_to_frame_pixels():
    tile = bf.Tile(0.5, 100, 40, (True, True, True, True))
    boxes, eyes = bf.to_frame(np.array([[10, 20, 30, 40]], np.float32), np.array([[[12, 25], [28, 25]]], np.float32),
                              tile)
    assert boxes.tolist() == [[220, 120, 260, 160]]
    assert eyes.tolist() == [[[224, 130], [256, 130]]]


# --- the committed weights ------------------------------------------------------------------


def test_the_committed_model_matches_its_checksum_and_carries_its_license():
    content = (bf.MODEL_DIR / bf.MODEL_FILE).read_bytes()
    assert hashlib.sha256(content).hexdigest() == bf.MODEL_SHA256
    assert "Apache License" in (bf.MODEL_DIR / "LICENSE").read_text()
    readme = (bf.MODEL_DIR / "README.md").read_text()
    assert bf.MODEL_SHA256 in readme and bf.MODEL_FILE in readme


def test_a_changed_model_file_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / bf.MODEL_FILE
    shutil.copy(bf.MODEL_DIR / bf.MODEL_FILE, copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(bf, "MODEL_DIR", tmp_path)
    with pytest.raises(ValueError, match="SHA-256"):
        bf.load_model(None)


def test_min_score_must_be_a_probability():
    with pytest.raises(ValueError, match="min_score"):
        build_detector("blazeface", min_score=1.5)


# --- the real network -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blazeface():
    return build_detector("blazeface")


def test_finds_the_astronaut_where_hog_does_with_her_eyes_inside(blazeface, astronaut):
    [face] = blazeface.detect(astronaut)
    [hog_face] = build_detector("hog").detect(astronaut)
    assert face.iou(hog_face) >= 0.5
    (x0, y0), (x1, y1) = sorted(face.eyes)
    assert face.left < x0 < x1 < face.right and face.top < min(y0, y1) < (face.top + face.bottom) / 2
    assert 0.6 <= face.score <= 1.0


def test_a_tilted_head_is_found_and_its_tilt_measured(blazeface, astronaut):
    from service.vision.preprocess import eye_angle

    [upright] = blazeface.detect(astronaut)
    centre = ((upright.left + upright.right) / 2, (upright.top + upright.bottom) / 2)
    turned = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D(centre, 30, 1.0), (512, 512),
                            borderMode=cv2.BORDER_REPLICATE)  # the head leans 30 degrees to the left
    [face] = blazeface.detect(turned)
    assert eye_angle(face.eyes) - eye_angle(upright.eyes) == pytest.approx(-30, abs=6)


def test_a_face_cut_by_the_frame_edge_is_kept(blazeface, astronaut):
    [face] = blazeface.detect(astronaut)
    cut = np.ascontiguousarray(astronaut[:, face.left + face.width // 4 :])  # a quarter of the face gone
    found = blazeface.detect(cut)
    assert len(found) == 1 and found[0].left == 0


@pytest.mark.parametrize("name", sorted(SAMPLE_FACE_HEIGHTS))
def test_finds_every_face_of_the_samples_and_nothing_else(blazeface, load_sample, name):
    rgb = load_sample(name)
    found = blazeface.detect(rgb)
    assert len(found) == len(SAMPLE_FACE_HEIGHTS[name])
    for box in build_detector("hog", min_face_px=48, max_width=4000).detect(rgb):  # each where HOG finds one
        assert max(box.iou(face) for face in found) >= 0.4


def test_several_threads_get_what_one_thread_gets(blazeface, astronaut):
    frames = [astronaut, np.ascontiguousarray(astronaut[::2, ::2]), np.ascontiguousarray(astronaut[:, ::-1])] * 2
    sequential = [blazeface.detect(frame) for frame in frames]
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(blazeface.detect, frames))
    assert concurrent == sequential


def test_a_frame_without_faces_gives_none(blazeface):
    from bench.street import street_backdrop

    assert blazeface.detect(street_backdrop((1280, 720)).astype(np.uint8)) == []


# --- recall per face size on a composed street ---------------------------------------------------


@pytest.fixture(scope="module")
def street(astronaut):
    from bench.scenes import faces
    from bench.street import street_scene

    return street_scene(faces(), sizes=(16, 20, 24, 32, 48, 64, 96, 128, 200), per_size=4)


def found_sizes(found: list[FaceBox], truths) -> tuple[list[int], int]:
    """Sizes of the true faces found (IoU >= 0.3) and how many boxes matched no true face."""
    matched, sizes = set(), []
    for truth in truths:
        box = FaceBox(*truth.box)
        best = max(range(len(found)), key=lambda i: found[i].iou(box), default=None)
        if best is not None and found[best].iou(box) >= 0.3:
            matched.add(best)
            sizes.append(truth.size)
    return sizes, len(found) - len(matched)


def test_every_face_from_20_px_is_found_when_the_frame_is_searched_at_full_size(street):
    frame, truths = street
    found = build_detector("blazeface", min_face_px=12, max_width=4000).detect(frame)
    sizes, false = found_sizes(found, truths)
    assert false == 0
    assert sorted(size for size in sizes if size >= 20) == sorted(t.size for t in truths if t.size >= 20)
    assert sizes.count(16) >= 3  # 16 px is the edge of what the network sees: 3 of the 4


def test_with_the_default_width_cap_the_smallest_face_found_follows_the_cap(street, blazeface):
    frame, truths = street  # 1920 px wide, searched at 576: faces from 60 px
    sizes, false = found_sizes(blazeface.detect(frame), truths)
    assert false == 0
    assert all(sizes.count(size) == 4 for size in (64, 96, 128, 200))
    assert not any(size < 32 for size in sizes)
