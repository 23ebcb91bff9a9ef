"""Analyse one image without recording it, and draw the detections on it in memory."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from service.analyze.schemas import AnalysisOut
from service.config import Settings
from service.frames.schemas import Box, DetectionOut
from service.frames.service import analyze_image, box_out

HAPPY_COLOUR, OTHER_COLOUR, UNREAD_COLOUR = (46, 204, 64), (255, 133, 27), (170, 170, 170)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Analysis:
    rgb: np.ndarray
    result: object  # service.vision.pipeline.FrameAnalysis


class _KeepPixels:
    """Wraps the pipeline to keep the decoded pixels for drawing, so that the frames service's
    analyze_image (limits, decoding, error mapping) is reused unchanged."""

    def __init__(self, pipeline) -> None:
        self.pipeline, self.rgb = pipeline, None

    def analyze(self, rgb: np.ndarray):
        self.rgb = rgb
        return self.pipeline.analyze(rgb)


def analyze(pipeline, image: bytes, settings: Settings) -> Analysis:
    keeper = _KeepPixels(pipeline)
    result = analyze_image(keeper, image, settings)
    return Analysis(keeper.rgb, result)


def to_output(analysis: Analysis) -> AnalysisOut:
    result = analysis.result
    height, width = analysis.rgb.shape[:2]
    return AnalysisOut(width=width, height=height, faces=result.faces, happy=result.happy,
                       not_happy=result.not_happy, unread=result.unread, emotions=dict(result.emotions),
                       detections=[_detection_out(d) for d in result.detections],
                       unread_boxes=[box_out(box) for box in result.unread_boxes],
                       timings_ms={k: round(v, 2) for k, v in result.timings_ms.items()})


def _detection_out(detection) -> DetectionOut:
    box = detection.box
    return DetectionOut(box=Box(top=box.top, right=box.right, bottom=box.bottom, left=box.left),
                        label=detection.label, scores={k: round(v, 4) for k, v in detection.scores.items()})


def annotated_jpeg(analysis: Analysis) -> bytes:
    """The image with each read face's box and `label score` drawn, and each face too small to
    read boxed in grey; encoded in memory only."""
    image = Image.fromarray(analysis.rgb)
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 400))  # stays visible on large frames
    font = ImageFont.load_default(size=max(12, 6 * line))
    for detection in analysis.result.detections:
        _draw_detection(draw, detection, line, font)
    for box in analysis.result.unread_boxes:
        draw.rectangle((box.left, box.top, box.right - 1, box.bottom - 1), outline=UNREAD_COLOUR, width=line)
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _draw_detection(draw: ImageDraw.ImageDraw, detection, line: int, font) -> None:
    box = detection.box
    colour = HAPPY_COLOUR if detection.label == "happy" else OTHER_COLOUR
    draw.rectangle((box.left, box.top, box.right - 1, box.bottom - 1), outline=colour, width=line)
    caption = f"{detection.label} {detection.scores.get(detection.label, 0.0):.2f}"
    left, top, right, bottom = draw.textbbox((box.left, box.top), caption, font=font)
    above = max(0, box.top - (bottom - top) - 2 * line)  # above the box, or inside at the top edge
    draw.rectangle((box.left, above, box.left + (right - left) + 2 * line, above + (bottom - top) + 2 * line),
                   fill=colour)
    draw.text((box.left + line, above + line - (top - box.top)), caption, fill=(0, 0, 0), font=font)
