"""Detectors: the scale rule, the registry, and the real dlib detectors on real photos."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from service.vision.decode import decode_image
from service.vision.detectors import DETECTORS, FaceBox, build_detector, smallest_findable_face_px, working_scale
from service.vision.detectors.base import to_original_boxes
from support import SAMPLE_FACE_HEIGHTS

HOG_NATIVE_PX = 80

# --- the scale rule and box mapping (pure) -------------------------------------------


@pytest.mark.parametrize(
    ("width", "expected"),
    [(320, 80 / 48), (768, 80 / 48), (854, 1280 / 854), (1280, 1.0), (1920, 2 / 3)],
)
def test_working_scale_follows_min_face_then_width_cap(width, expected):
    scale = working_scale(width, native_face_px=HOG_NATIVE_PX, min_face_px=48, max_width=1280)
    assert scale == pytest.approx(expected)


def test_smallest_findable_face_grows_when_the_width_cap_wins():
    def smallest(width: int) -> float:
        return smallest_findable_face_px(width, native_face_px=HOG_NATIVE_PX, min_face_px=48, max_width=1280)

    assert smallest(640) == pytest.approx(48)
    assert smallest(1280) == pytest.approx(80)
    assert smallest(1920) == pytest.approx(120)


def test_boxes_map_back_to_original_pixels_and_are_clipped():
    rects = [(100, 50, 180, 130), (-10, -5, 40, 30), (990, 10, 1100, 60)]
    boxes = to_original_boxes(rects, scale_x=0.5, scale_y=0.5, width=500, height=400)
    assert boxes[0] == FaceBox(top=100, right=360, bottom=260, left=200)
    assert boxes[1] == FaceBox(top=0, right=80, bottom=60, left=0)
    assert len(boxes) == 2  # the third lies wholly outside the frame


def test_iou():
    a = FaceBox(top=0, right=10, bottom=10, left=0)
    assert a.iou(a) == 1.0
    assert a.iou(FaceBox(top=0, right=15, bottom=10, left=5)) == pytest.approx(50 / 150)
    assert a.iou(FaceBox(top=20, right=30, bottom=30, left=20)) == 0.0


# --- registry ------------------------------------------------------------------------


def test_registry_names_every_detector():
    assert set(DETECTORS) == {"blazeface", "hog", "stub"}
    for name, detector_class in DETECTORS.items():
        assert detector_class.type == name
        assert detector_class.config_class().type == name


def test_build_detector_passes_settings():
    detector = build_detector("hog", min_face_px=60, max_width=960)
    assert (detector.config.min_face_px, detector.config.max_width) == (60, 960)


def test_each_detector_keeps_its_own_defaults_when_none_are_given():
    assert (build_detector("hog").config.min_face_px, build_detector("hog").config.max_width) == (48, 1280)
    blazeface = build_detector("blazeface", min_face_px=None, max_width=None)
    assert (blazeface.config.min_face_px, blazeface.config.max_width) == (12, 576)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "yolo"}, "unknown detector type"),
        ({"type": "hog", "faces": 2}, "invalid option"),
        ({"type": "hog", "min_face_px": 0}, "min_face_px"),
        ({"type": "stub", "faces": -1}, "faces"),
    ],
)
def test_build_detector_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_detector(**kwargs)


def test_stub_returns_the_configured_boxes_inside_the_frame():
    rgb = np.zeros((480, 854, 3), dtype=np.uint8)
    boxes = build_detector("stub", faces=3).detect(rgb)
    assert len(boxes) == 3 and len(set(boxes)) == 3
    for box in boxes:
        assert 0 <= box.left < box.right <= 854 and 0 <= box.top < box.bottom <= 480
        assert box.width == box.height
    assert build_detector("stub", faces=0).detect(rgb) == []


def test_hog_working_image_is_gray_and_scaled():
    detector = build_detector("hog", min_face_px=48, max_width=1280)
    image, scale_x, scale_y = detector.working_image(np.zeros((1080, 1920, 3), dtype=np.uint8))
    assert image.shape == (720, 1280) and scale_x == pytest.approx(2 / 3)
    image, scale_x, _ = detector.working_image(np.zeros((240, 320, 3), dtype=np.uint8))
    assert image.shape == (400, 533) and scale_x == pytest.approx(533 / 320)


# --- real dlib detectors on real photos --------------------------------------------------


@pytest.fixture(scope="module")
def face_recognition():
    # Imported here, not skipped when missing: it is a service dependency, and importing it
    # loads several models that only these comparisons need.
    import face_recognition

    return face_recognition


@pytest.fixture(scope="module")
def hog():
    return build_detector("hog", min_face_px=48, max_width=1280)


def reference_boxes(face_recognition, rgb: np.ndarray) -> list[FaceBox]:
    """The seed pipeline's boxes: face_recognition's HOG with one upsample."""
    return [FaceBox(*location) for location in face_recognition.face_locations(rgb, 1)]


def assert_finds(found: list[FaceBox], expected: list[FaceBox], min_iou: float = 0.5) -> None:
    for wanted in expected:
        best = max((wanted.iou(box) for box in found), default=0.0)
        assert best >= min_iou, f"face {wanted} not found (best IoU {best:.2f}) among {found}"


def test_hog_finds_the_astronaut(hog, face_recognition, astronaut):
    found = hog.detect(astronaut)
    assert len(found) == 1
    # The seed also reports a 90 px "face" on the spacesuit (top 335): a false positive that
    # the one-upsample scan reaches; so check that our face is one of the seed's, not all.
    assert_finds(reference_boxes(face_recognition, astronaut), found, min_iou=0.8)


@pytest.mark.parametrize("name", sorted(SAMPLE_FACE_HEIGHTS))
def test_hog_finds_every_listed_face_of_80_px_or_more(hog, face_recognition, load_sample, name):
    rgb = load_sample(name)
    expected = [box for box in reference_boxes(face_recognition, rgb) if box.height >= 80]
    assert len(expected) == sum(height >= 80 for height in SAMPLE_FACE_HEIGHTS[name])
    assert_finds(hog.detect(rgb), expected)


def test_hog_finds_faces_below_80_px_in_small_frames(hog, face_recognition, load_sample):
    rgb = load_sample("kit_with_rose.jpg")  # 501 px wide: working scale 80/48, the 74 px face too
    assert_finds(hog.detect(rgb), reference_boxes(face_recognition, rgb))


def test_face_found_after_exif_rotation(hog, astronaut):
    sideways = Image.fromarray(np.rot90(astronaut))  # stored turned a quarter anticlockwise
    assert hog.detect(np.asarray(sideways)) == []  # HOG needs an upright face
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    buffer = BytesIO()
    sideways.save(buffer, format="JPEG", quality=92, exif=exif)
    upright = decode_image(buffer.getvalue(), max_pixels=40_000_000)
    assert upright.shape == astronaut.shape
    assert_finds(hog.detect(upright), hog.detect(astronaut), min_iou=0.8)


def test_hog_is_safe_from_several_threads(hog, load_sample):
    frames = [load_sample(name) for name in ("obama-480p.jpg", "two_people.jpg", "kit_with_rose.jpg")] * 2
    sequential = [hog.detect(rgb) for rgb in frames]
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(hog.detect, frames))
    assert concurrent == sequential


def test_each_detector_says_the_smallest_face_it_searches_a_frame_for():
    hog = build_detector("hog", min_face_px=48, max_width=1280)
    assert hog.smallest_face_px(1920, 1080) == pytest.approx(120)  # the width cap wins
    assert hog.smallest_face_px(640, 480) == pytest.approx(48)
    assert build_detector("stub", min_face_px=30).smallest_face_px(1920, 1080) == 30
    assert build_detector("blazeface").smallest_face_px(1280, 720) == pytest.approx(40)
