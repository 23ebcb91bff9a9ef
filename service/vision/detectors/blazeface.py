"""BlazeFace full-range (MediaPipe's face detector, Apache-2.0), run tiled over an image pyramid so
that small faces in large frames are found as well as large ones.

The network sees a fixed 192x192 RGB input and finds faces from about `NATIVE_FACE_PX` pixels
up to most of its input. A frame is searched at a few scales (`pyramid`): the finest scale makes a
`min_face_px` face span NATIVE_FACE_PX pixels and is cut into overlapping 192-px tiles; each next
scale is a quarter of the one before, down to the whole frame fitted into one input. Detections of
all tiles are mapped back to the frame and merged by weighted non-maximum suppression. A face cut by
a tile's inner edge is left to the neighbouring tile (the overlap holds it whole) or to a coarser
scale; faces at the frame's own edge are kept.

The eye keypoints come back with each box, in memory only, for upright crops (preprocess.py).
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from service.vision.boxes import FaceBox
from service.vision.detectors.base import CropFraming, Detector, DetectorConfig
from service.vision.preprocess import resize

MODEL_DIR = Path(__file__).resolve().parents[3] / "models" / "detector"
MODEL_FILE = "face_detection_full_range.tflite"
MODEL_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"

INPUT_PX = 192
GRID = 48  # one anchor per cell of a 48x48 grid (stride 4)
NATIVE_FACE_PX = 18.0  # smallest face (input pixels) found reliably; `happiness bench detect` measures it
PYRAMID_STEP = 2.5  # each coarser scale is this much smaller
# pixels two neighbouring tiles share: a face up to this size is whole in one tile, and a larger
# one is at least NATIVE_FACE_PX at the next coarser scale
TILE_OVERLAP = round(NATIVE_FACE_PX * PYRAMID_STEP)
EDGE_PX = 2.0  # a box this close to a tile's inner edge is taken as cut by it
NMS_IOU = 0.3
CONTAINED = 0.6


@dataclass(frozen=True, kw_only=True)
class BlazeFaceConfig(DetectorConfig):
    """`max_width` caps the scaled frame's longer side, which bounds a frame's cost: with the
    defaults a 480x270 frame is searched for faces from 15 px, 1280x720 from 40 px and
    1920x1080 from 60 px (`smallest_face_px`)."""

    type: Literal["blazeface"] = "blazeface"
    min_face_px: int = 12
    max_width: int = 576
    min_score: float = 0.6
    model_path: str | None = None  # default: models/detector/ (checked against MODEL_SHA256)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), got {self.min_score}")


@dataclass(frozen=True)
class Tile:
    """A INPUT_PX square of the frame scaled by `scale`, its top-left at (x, y) scaled pixels."""

    scale: float
    x: int
    y: int
    inner_edges: tuple[bool, bool, bool, bool]  # left, top, right, bottom lie inside the scaled frame


def anchor_centres() -> np.ndarray:
    """[2304, 2] (x, y) anchor centres in input fractions: cell centres of the 48x48 grid, row by
    row (MediaPipe's SSD anchors for this model: one layer, stride 4, fixed size 1)."""
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


ANCHORS = anchor_centres()


def decode(raw: np.ndarray, logits: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's [2304, 16] regressors and [2304] score logits -> (boxes [N, 4] as x0, y0, x1, y1,
    scores [N], eyes [N, 2, 2] as (x, y) of the two eye keypoints), in input pixels, for the
    anchors whose sigmoid score reaches `min_score`. Offsets are in input pixels from the anchor
    centre; width and height follow them, then six (x, y) keypoints, eyes first."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
    keep = scores >= min_score
    raw, scores, anchors = raw[keep], scores[keep], ANCHORS[keep] * INPUT_PX
    centre = anchors + raw[:, 0:2]
    half = raw[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    eyes = raw[:, 4:8].reshape(-1, 2, 2) + anchors[:, None, :]
    return boxes, scores, eyes


def overlaps(box: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, share of each of `boxes` inside `box`) of one (x0, y0, x1, y1) box with each of `boxes`."""
    low = np.maximum(box[:2], boxes[:, :2])
    high = np.minimum(box[2:], boxes[:, 2:])
    overlap = np.prod(np.clip(high - low, 0.0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.maximum(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1), 1e-9)
    return overlap / np.maximum(area + areas - overlap, 1e-9), overlap / areas


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, eyes: np.ndarray,
                 iou: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression (MediaPipe's WEIGHTED algorithm): take the best remaining
    detection, gather every remaining one overlapping it by more than `iou`, and replace the group
    by its score-weighted mean box and eyes with the best score. Averaging steadies the boxes that
    several anchors, tiles and scales give for one face. A less confident box lying mostly
    (CONTAINED) inside a kept one is dropped too: at a fine scale, part of a large face (an eye and
    a mouth) can look like a small face."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, eyes = boxes[order], scores[order], eyes[order]
    out_boxes, out_scores, out_eyes = [], [], []
    remaining = np.ones(len(boxes), bool)
    for index in range(len(boxes)):
        if not remaining[index]:
            continue
        union_share, inside_share = overlaps(boxes[index], boxes)
        group = remaining & (union_share > iou)
        group[index] = True
        weights = scores[group] / scores[group].sum()
        out_boxes.append(weights @ boxes[group])
        out_eyes.append(np.tensordot(weights, eyes[group], axes=1))
        out_scores.append(scores[index])
        remaining &= ~group & ~(inside_share > CONTAINED)
    if not out_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 2, 2), np.float32)
    return np.array(out_boxes), np.array(out_scores), np.array(out_eyes)


def pyramid(width: int, height: int, min_face_px: int, max_width: int) -> list[float]:
    """The scales a frame is searched at, finest first: the finest makes a `min_face_px` face
    span NATIVE_FACE_PX (capped so that the scaled frame's longer side is at most `max_width`),
    each next one is PYRAMID_STEP smaller, and the last fits the whole frame into one input."""
    fit = INPUT_PX / max(width, height)
    scale = min(NATIVE_FACE_PX / min_face_px, max_width / max(width, height))
    scales = []
    while scale > fit:
        scales.append(scale)
        scale /= PYRAMID_STEP
    return [*scales, fit]


def tile_starts(length: int) -> list[int]:
    """Starts of INPUT_PX windows covering `length` pixels, neighbours sharing >= TILE_OVERLAP."""
    if length <= INPUT_PX:
        return [0]
    stride = INPUT_PX - TILE_OVERLAP
    count = math.ceil((length - INPUT_PX) / stride) + 1
    return [round(i * (length - INPUT_PX) / (count - 1)) for i in range(count)]


def tiles(width: int, height: int, scale: float) -> list[Tile]:
    """The tiles of the frame scaled by `scale` (a frame smaller than a tile is one, padded)."""
    scaled_w, scaled_h = max(1, round(width * scale)), max(1, round(height * scale))
    return [
        Tile(scale, x, y, (x > 0, y > 0, x + INPUT_PX < scaled_w, y + INPUT_PX < scaled_h))
        for y in tile_starts(scaled_h)
        for x in tile_starts(scaled_w)
    ]


def cut_by_inner_edge(boxes: np.ndarray, tile: Tile) -> np.ndarray:
    """True for boxes touching an edge of the tile that lies inside the frame."""
    near = np.stack([boxes[:, 0] <= EDGE_PX, boxes[:, 1] <= EDGE_PX,
                     boxes[:, 2] >= INPUT_PX - EDGE_PX, boxes[:, 3] >= INPUT_PX - EDGE_PX], axis=1)
    return (near & np.array(tile.inner_edges)).any(axis=1)


def to_frame(boxes: np.ndarray, eyes: np.ndarray, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """Tile input pixels -> original frame pixels."""
    offset = np.array([tile.x, tile.y], np.float32)
    return ((boxes.reshape(-1, 2, 2) + offset) / tile.scale).reshape(-1, 4), (eyes + offset) / tile.scale


def tile_input(scaled: np.ndarray, tile: Tile) -> np.ndarray:
    """[1, 192, 192, 3] float32 in [-1, 1]; parts past the scaled frame are black."""
    window = scaled[tile.y : tile.y + INPUT_PX, tile.x : tile.x + INPUT_PX]
    batch = np.full((1, INPUT_PX, INPUT_PX, 3), -1.0, np.float32)
    batch[0, : window.shape[0], : window.shape[1]] = window / np.float32(127.5) - 1.0
    return batch


def to_face_boxes(boxes: np.ndarray, scores: np.ndarray, eyes: np.ndarray, width: int, height: int) -> list[FaceBox]:
    """Frame-pixel boxes -> FaceBox, clipped to the frame (exclusive right and bottom)."""
    faces = []
    for (x0, y0, x1, y1), score, eye_pair in zip(boxes, scores, eyes):
        box = FaceBox(top=max(0, math.floor(y0)), right=min(width, math.ceil(x1)),
                      bottom=min(height, math.ceil(y1)), left=max(0, math.floor(x0)),
                      score=float(score), eyes=tuple(map(tuple, eye_pair.tolist())))
        if box.width > 0 and box.height > 0:
            faces.append(box)
    return faces


def load_model(model_path: str | None) -> bytes:
    """The detector's weights; the committed file is refused if its checksum does not match."""
    path = Path(model_path) if model_path else MODEL_DIR / MODEL_FILE
    content = path.read_bytes()
    if model_path is None and hashlib.sha256(content).hexdigest() != MODEL_SHA256:
        raise ValueError(f"{path} does not match its recorded SHA-256 (models/detector/README.md)")
    return content


class BlazeFaceDetector(Detector[BlazeFaceConfig]):
    """The default detector: finds small, turned and tilted faces that HOG misses.

    Thread safety: a TFLite interpreter keeps its tensors, so each thread gets its own.
    """

    type: ClassVar[str] = "blazeface"
    config_class: ClassVar[type[DetectorConfig]] = BlazeFaceConfig
    # bench/crop_framing.py --detector blazeface: the best of margins 0.05-0.15 x lifts 0-0.05 on
    # FER2013 train faces; upright crops read leaning heads better and upright ones as well
    # (BENCHMARKS.md, Face detection)
    framing: ClassVar[CropFraming] = CropFraming(margin=0.1, lift=0.0, upright=True)

    def __init__(self, config: BlazeFaceConfig) -> None:
        super().__init__(config)
        self._content = load_model(config.model_path)
        self._per_thread = threading.local()

    def _interpreter(self):
        interpreter = getattr(self._per_thread, "interpreter", None)
        if interpreter is None:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_content=self._content, num_threads=1)
            interpreter.allocate_tensors()
            self._per_thread.interpreter = interpreter
        return interpreter

    def smallest_face_px(self, width: int, height: int) -> float:
        return NATIVE_FACE_PX / pyramid(width, height, self.config.min_face_px, self.config.max_width)[0]

    def calls(self, width: int, height: int) -> int:
        """Network calls one frame of this size costs."""
        scales = pyramid(width, height, self.config.min_face_px, self.config.max_width)
        return sum(len(tiles(width, height, scale)) for scale in scales)

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        if rgb.ndim != 3:
            raise ValueError("the blazeface detector needs an RGB frame")
        height, width = rgb.shape[:2]
        found = [self._detect_at(scaled, width, height, scale) for scaled, scale in self._levels(rgb)]
        boxes, scores, eyes = (np.concatenate(part) for part in zip(*found))
        return to_face_boxes(*weighted_nms(boxes, scores, eyes), width, height)

    def _levels(self, rgb: np.ndarray):
        """(the frame at each pyramid scale, that scale), finest first; each level is shrunk from
        the one before it rather than from the whole frame, which costs a fraction of the time."""
        height, width = rgb.shape[:2]
        scaled = rgb
        for scale in pyramid(width, height, self.config.min_face_px, self.config.max_width):
            scaled = resize(scaled, max(1, round(width * scale)), max(1, round(height * scale)))
            yield scaled, scale

    def _detect_at(self, scaled: np.ndarray, width: int, height: int,
                   scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [self._detect_tile(scaled, tile) for tile in tiles(width, height, scale)]
        return tuple(np.concatenate(part) for part in zip(*parts))  # type: ignore[return-value]

    def _detect_tile(self, scaled: np.ndarray, tile: Tile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        interpreter = self._interpreter()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tile_input(scaled, tile))
        interpreter.invoke()
        outputs = sorted((interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()),
                         key=lambda tensor: tensor.shape[-1])
        logits, regressors = outputs  # [1, 2304, 1] scores, [1, 2304, 16] boxes and keypoints
        boxes, scores, eyes = decode(regressors[0], logits[0, :, 0], self.config.min_score)
        whole = ~cut_by_inner_edge(boxes, tile)
        frame_boxes, frame_eyes = to_frame(boxes[whole], eyes[whole], tile)
        return frame_boxes, scores[whole], frame_eyes
