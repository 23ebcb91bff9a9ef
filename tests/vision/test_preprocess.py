"""Pure preprocessing: grayscale conversion, resizing and face crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.vision.detectors.base import FaceBox
from service.vision.preprocess import crop_faces, resize, square_region, to_gray


def box(top: int, left: int, height: int, width: int) -> FaceBox:
    return FaceBox(top=top, right=left + width, bottom=top + height, left=left)


def test_to_gray_uses_bt601_weights():
    rgb = np.zeros((1, 3, 3), dtype=np.uint8)
    rgb[0, 0, 0], rgb[0, 1, 1], rgb[0, 2, 2] = 255, 255, 255
    gray = to_gray(rgb)
    assert gray.dtype == np.uint8 and gray.shape == (1, 3)
    assert gray[0].tolist() == [76, 150, 29]


def test_to_gray_passes_gray_through():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_gray(gray) is gray


@pytest.mark.parametrize("size", [(10, 20), (200, 300)])
def test_resize_shape(size):
    height, width = size
    image = np.full((50, 60), 9, dtype=np.uint8)
    result = resize(image, width, height)
    assert result.shape == (height, width) and (result == 9).all()


def test_no_boxes_gives_an_empty_batch():
    batch = crop_faces(np.zeros((100, 100), dtype=np.uint8), [])
    assert batch.shape == (0, 48, 48) and batch.dtype == np.uint8


def test_batch_shape_follows_size_height_width():
    gray = np.zeros((200, 300), dtype=np.uint8)
    batch = crop_faces(gray, [box(10, 10, 50, 50), box(100, 200, 80, 60)], size=(40, 32))
    assert batch.shape == (2, 40, 32) and batch.dtype == np.uint8


def test_margin_surrounds_the_face():
    gray = np.zeros((300, 300), dtype=np.uint8)
    gray[100:160, 120:180] = 200  # a 60 px "face", exactly its detected box
    [crop] = crop_faces(gray, [box(100, 120, 60, 60)], margin=0.25)  # side 90 -> 48
    assert (crop[12:36, 12:36] == 200).all()  # the face fills the central two thirds
    assert (crop[:6] == 0).all() and (crop[:, -6:] == 0).all()


def test_region_is_square_around_the_box_centre():
    top, left, height, width = square_region(box(50, 100, 40, 20), margin=0.1)
    assert height == width == 48
    assert (top + height / 2, left + width / 2) == (70, 110)


def test_lift_raises_the_square_by_a_share_of_the_box_side():
    top, left, height, width = square_region(box(50, 100, 40, 20), margin=0.1, lift=0.25)
    assert height == width == 48
    assert (top + height / 2, left + width / 2) == (70 - 0.25 * 40, 110)


def test_lifted_crop_shows_more_above_the_box_than_below():
    gray = np.zeros((300, 300), dtype=np.uint8)
    gray[:130] = 255  # everything above row 130 is bright; the box spans rows 100-160
    [level] = crop_faces(gray, [box(100, 120, 60, 60)], margin=0.2, lift=0.0)
    [lifted] = crop_faces(gray, [box(100, 120, 60, 60)], margin=0.2, lift=0.1)
    # the box centre sits on the edge: half the level crop is bright, the lifted one more
    assert (level[:23] == 255).all() and (level[25:] == 0).all()
    assert (lifted[:27] == 255).all() and (lifted[29:] == 0).all()  # 48 of 84 rows bright


def test_faces_at_the_border_are_padded_not_stretched():
    gray = np.zeros((100, 100), dtype=np.uint8)
    gray[:40, :40] = 255
    [crop] = crop_faces(gray, [box(0, 0, 40, 40)], margin=0.5)  # region starts at (-20, -20)
    # the edge rows are repeated outwards, so the face stays centred at its true scale
    assert crop.shape == (48, 48)
    assert (crop[:30, :30] == 255).all() and (crop[-6:, -6:] == 0).all()


def test_cropping_the_rgb_frame_equals_cropping_its_gray_conversion():
    # the pipeline converts only the crops to gray; the batch must be the one a gray frame gives
    rgb = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = [box(30, 40, 50, 50), box(0, 0, 30, 40), box(90, 130, 30, 30)]  # inside, at two borders
    from_rgb = crop_faces(rgb, boxes)
    assert from_rgb.shape == (3, 48, 48) and from_rgb.dtype == np.uint8
    assert np.array_equal(from_rgb, crop_faces(to_gray(rgb), boxes))


# --- upright crops by the eye keypoints -------------------------------------------------


def test_eye_angle_is_clockwise_from_the_horizontal_whichever_eye_comes_first():
    from service.vision.preprocess import eye_angle

    assert eye_angle(((10, 10), (20, 10))) == pytest.approx(0)
    assert eye_angle(((20, 20), (10, 10))) == pytest.approx(45)  # the image's right eye is lower
    assert eye_angle(((10, 20), (20, 10))) == pytest.approx(-45)


def test_an_upright_square_levels_the_eyes_and_keeps_the_face_centred():
    from service.vision.preprocess import eye_angle, upright_square

    image = np.zeros((200, 200), np.uint8)
    eyes = ((80, 90), (120, 110))  # a head leaning 26.6 degrees
    for x, y in eyes:
        cv2.circle(image, (x, y), 3, 255, -1)
    square = upright_square(image, 50, 50, 100, eye_angle(eyes))
    ys, xs = np.nonzero(square > 128)
    left_row, right_row = ys[xs < 50].mean(), ys[xs >= 50].mean()
    assert left_row == pytest.approx(right_row, abs=1.0) and left_row == pytest.approx(50, abs=1.5)
    assert xs[xs < 50].mean() == pytest.approx(50 - np.hypot(40, 20) / 2, abs=1.5)


def test_crop_faces_turns_only_when_asked_and_the_box_has_eyes():
    from service.vision.boxes import FaceBox
    from service.vision.preprocess import crop_faces

    image = np.zeros((200, 200, 3), np.uint8)
    cv2.line(image, (60, 60), (140, 140), (255, 255, 255), 9)  # a diagonal stroke
    plain = FaceBox(top=50, right=150, bottom=150, left=50)
    leaning = FaceBox(top=50, right=150, bottom=150, left=50, eyes=((60, 60), (140, 140)))
    as_is = crop_faces(image, [plain], margin=0.0, upright=True)[0]
    turned = crop_faces(image, [leaning], margin=0.0, upright=True)[0]
    assert np.array_equal(as_is, crop_faces(image, [leaning], margin=0.0, upright=False)[0])
    rows_lit = (turned > 128).any(axis=1).sum()
    assert rows_lit <= 8 and (as_is > 128).any(axis=1).sum() > 30  # the diagonal became a level line
