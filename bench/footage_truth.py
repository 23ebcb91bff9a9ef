"""Faces in view in ../shared/footage/hamilton_clip.mp4, counted by eye.

How they were counted: every 15th frame (0, 15, ..., 270) was drawn at twice its size with every
box the default detector finds at a score of 0.5 or more, and each was looked at by a person
(2026-12-06). A face counts when it is in focus and at least half of it is in the frame; its box
is the detector's box where one fitted, else drawn by eye from the picture (frames 30 and 45, the
turned close-up, and the man at the left of frame 255). Frames 30-75 show the performer's head in
close-up before an audience so out of focus that no face there can be told apart: everything
outside the listed faces is ignored there (a box in that blur is neither found nor false).

People in the whole clip, by eye (every frame stepped through): six. The performer, the pianist at
the left (frames 0-28), and four people in the audience row (frames 218-274): the man at the left,
the woman beside him, and the couple at the right. The clip has four shots (cuts after frames 28,
88 and 217) and the performer is in three of them: the wide stage shot, the turned close-up and
the medium shot. A tracker cannot link a person across a cut (nor should it: no identity is
kept), so an agent that counts every person in view once per shot counts 8 appearances: 2 + 1 +
1 + 4; the close-up shows the head turned to a profile.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[int, int, int, int]  # top, right, bottom, left (frame pixels, 640x360)

PERFORMER_STAGE = {0: (52, 566, 100, 518), 15: (54, 562, 99, 518)}
PIANIST = {0: (188, 86, 219, 55), 15: (188, 81, 217, 51)}
PERFORMER_CLOSE = {
    30: (60, 560, 300, 290), 45: (70, 640, 330, 390),
    90: (72, 257, 171, 157), 105: (77, 293, 168, 202), 120: (53, 281, 140, 194), 135: (36, 248, 121, 164),
    150: (36, 302, 135, 202), 165: (45, 329, 147, 227), 180: (48, 291, 148, 191), 195: (42, 330, 144, 228),
    210: (46, 360, 147, 259),
}
AUDIENCE = {
    225: ((99, 439, 176, 362), (73, 103, 134, 42), (57, 373, 125, 305), (99, 213, 166, 146)),
    240: ((102, 441, 174, 369), (102, 216, 168, 150), (61, 373, 121, 313), (61, 111, 136, 36)),
    255: ((103, 448, 177, 374), (102, 222, 169, 155), (61, 386, 131, 316), (72, 100, 136, 34)),
    270: ((102, 448, 175, 375), (61, 384, 131, 314), (103, 220, 169, 155), (75, 96, 135, 36)),
}
BLURRED = frozenset({30, 45, 60, 75})  # everything but the listed faces is ignored
PEOPLE = 6
APPEARANCES = 8  # people in view, each counted once per shot


@dataclass(frozen=True)
class FrameTruth:
    frame: int
    faces: tuple[Box, ...]
    ignore_rest: bool


def truth() -> list[FrameTruth]:
    """The counted frames, in order."""
    frames = []
    for number in range(0, 275, 15):
        faces = [part[number] for part in (PERFORMER_STAGE, PIANIST, PERFORMER_CLOSE) if number in part]
        faces += AUDIENCE.get(number, ())
        frames.append(FrameTruth(number, tuple(faces), number in BLURRED))
    return frames
