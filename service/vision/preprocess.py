"""Pure numeric steps between a decoded frame and the classifier input.

No state, no I/O: every function takes arrays and returns new arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from service.vision.boxes import FaceBox

# The pipeline crops with its detector's measured framing (detectors/base.py CropFraming);
# these defaults serve callers without a detector.
DEFAULT_MARGIN = 0.2
DEFAULT_LIFT = 0.0


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> gray uint8 HxW with ITU-R BT.601 luma weights
    (0.299 R + 0.587 G + 0.114 B), the conversion FER2013's grayscale images come from.
    A 2-D input is taken as already gray and returned unchanged."""
    if rgb.ndim == 2:
        return rgb
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def equalize(faces: np.ndarray) -> np.ndarray:
    """Histogram-equalise each gray uint8 face of a batch [N, H, W] on its own (OpenCV's
    equalizeHist: the cumulative histogram becomes a straight line). FER2013's training files
    were treated so, camera crops are not: a model trained on them and fed equalised crops sees
    the same intensity statistics whatever a camera's exposure, gain and contrast."""
    out = np.empty_like(faces)
    for index, face in enumerate(faces):
        cv2.equalizeHist(face, dst=out[index])
    return out


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to (width, height): INTER_AREA when shrinking (averages the source pixels, so
    no aliasing), INTER_LINEAR when enlarging (INTER_AREA degrades to nearest there)."""
    src_height, src_width = image.shape[:2]
    if (width, height) == (src_width, src_height):
        return image
    shrinking = width * height < src_width * src_height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def square_region(box: FaceBox, margin: float, lift: float = 0.0) -> tuple[int, int, int, int]:
    """The square (top, left, side, side) centred on `box`, its side the box's longer side
    grown by `margin` x side on each end, and its centre moved up by `lift` x that side. It
    may extend past the image; see crop_square."""
    box_side = max(box.width, box.height)
    side = max(1, round(box_side * (1.0 + 2.0 * margin)))
    centre_y = (box.top + box.bottom) / 2.0 - lift * box_side
    centre_x = (box.left + box.right) / 2.0
    return round(centre_y - side / 2.0), round(centre_x - side / 2.0), side, side


def crop_square(image: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """Cut a side x side square from a gray or RGB `image`; parts outside the image are filled
    by repeating the edge pixels, so a face at the border keeps its scale and stays centred
    instead of being stretched. Inside the image the square is a view, not a copy."""
    height, width = image.shape[:2]
    inner = image[max(top, 0) : min(top + side, height), max(left, 0) : min(left + side, width)]
    pad_top, pad_left = max(-top, 0), max(-left, 0)
    pad_bottom = side - inner.shape[0] - pad_top
    pad_right = side - inner.shape[1] - pad_left
    if pad_top or pad_left or pad_bottom or pad_right:
        inner = cv2.copyMakeBorder(inner, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    return inner


def eye_angle(eyes: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """Degrees the line from the first eye to the second (as the image shows them, left to right)
    turns clockwise from the horizontal: positive when the face leans towards the image's right."""
    (x0, y0), (x1, y1) = sorted(eyes)
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def upright_square(image: np.ndarray, top: int, left: int, side: int, angle: float) -> np.ndarray:
    """The side x side square at (top, left), turned by `angle` degrees about its centre so that a
    face tilted by `angle` comes out upright; edge pixels repeat past the image (as crop_square)."""
    centre = (left + side / 2.0, top + side / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    matrix[:, 2] -= (left, top)
    return cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def face_square(image: np.ndarray, box: FaceBox, margin: float, lift: float, upright: bool) -> np.ndarray:
    """The face's square region; turned upright by its eye keypoints when asked and known."""
    top, left, side, _ = square_region(box, margin, lift)
    if upright and box.eyes is not None:
        return upright_square(image, top, left, side, eye_angle(box.eyes))
    return crop_square(image, top, left, side)


def crop_faces(
    image: np.ndarray,
    boxes: Sequence[FaceBox],
    size: tuple[int, int] = (48, 48),
    margin: float = DEFAULT_MARGIN,
    lift: float = DEFAULT_LIFT,
    upright: bool = False,
) -> np.ndarray:
    """Crop every face of an RGB (or gray) frame into one gray uint8 batch [N, height, width].

    Each box is grown by `margin` (fraction of its side, on each side), made square around
    its centre raised by `lift` (fraction of its side), edge-padded where it leaves the image,
    turned upright by the eyes where `upright` and the box has them, converted to gray, then
    resized to `size` (height, width). No boxes gives an empty batch of shape (0, height, width).

    Only the crops are converted to gray, never the whole frame: gray is computed pixel by
    pixel, so the gray of a crop equals the crop of the gray frame, and a face costs a few
    thousand pixels where a 1280x720 frame costs 0.9 million.
    """
    height, width = size
    batch = np.empty((len(boxes), height, width), dtype=np.uint8)
    for index, box in enumerate(boxes):
        batch[index] = resize(to_gray(face_square(image, box, margin, lift, upright)), width, height)
    return batch
