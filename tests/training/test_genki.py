"""GENKI: the fixed hold-out, and faces read through the service's detector and crop."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from service.training import genki, served_crops
from service.vision.boxes import FaceBox
from service.vision.detectors import build_detector
from service.vision.detectors.base import CropFraming
from service.vision.pipeline import Pipeline
from service.vision.preprocess import to_gray

SHARED_GENKI = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "genki4k-train"


def files(n_smile: int, n_other: int, duplicates: int = 0) -> list[genki.GenkiFile]:
    """Distinct files of each label; the first ``duplicates`` smiles each have a byte copy."""
    made = [genki.GenkiFile(f"smile/s{i:04d}.jpg", True, f"s{i}") for i in range(n_smile)]
    made += [genki.GenkiFile(f"smile/copy{i:04d}.jpg", True, f"s{i}") for i in range(duplicates)]
    return made + [genki.GenkiFile(f"non_smile/n{i:04d}.jpg", False, f"n{i}") for i in range(n_other)]


def test_holdout_takes_a_fifth_of_each_label():
    held = genki.holdout_names(files(300, 200))
    assert sum(name.startswith("smile/") for name in held) == 60
    assert sum(name.startswith("non_smile/") for name in held) == 40


def test_holdout_keeps_byte_duplicates_on_one_side():
    items = files(100, 100, duplicates=40)
    held = genki.holdout_names(items)
    for i in range(40):
        assert (f"smile/s{i:04d}.jpg" in held) == (f"smile/copy{i:04d}.jpg" in held)
    assert any(f"smile/copy{i:04d}.jpg" in held for i in range(40))  # some pairs are held out, whole


def test_holdout_depends_on_content_not_on_order_or_salt_free():
    items = files(120, 80, duplicates=10)
    assert genki.holdout_names(items) == genki.holdout_names(list(reversed(items)))
    assert genki.holdout_names(items) != genki.holdout_names(items, salt="another")


def test_a_duplicate_group_with_two_labels_stays_whole():
    items = files(50, 50) + [genki.GenkiFile("non_smile/odd.jpg", False, "s3")]  # same bytes as s3, other label
    for salt in ("a", "b", "c", "d"):
        held = genki.holdout_names(items, salt=salt)
        assert ("smile/s0003.jpg" in held) == ("non_smile/odd.jpg" in held)


def test_select_parts_partition_the_files():
    items = files(20, 20)
    held = genki.holdout_names(items)
    train, holdout = genki.select(items, "train", held), genki.select(items, "holdout", held)
    assert {f.name for f in holdout} == held
    assert not {f.name for f in train} & held and len(train) + len(holdout) == len(items)
    with pytest.raises(ValueError):
        genki.select(items, "test", held)


def test_pad_canvas_holds_the_image_unscaled_in_the_middle():
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    frame = served_crops.canvas(image, "pad")
    assert frame.shape == (192, 192, 3)
    assert np.array_equal(frame[64:128, 64:128], image)
    enlarged = served_crops.canvas(image, "enlarge")
    assert enlarged.shape == (served_crops.CANVAS_PX, served_crops.CANVAS_PX, 3)
    with pytest.raises(ValueError):
        served_crops.canvas(image, "stretch")


def test_read_rgb_gives_red_as_the_first_channel(tmp_path):
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = served_crops.read_rgb(tmp_path / "red.png")
    assert rgb[0, 0].tolist() == [200, 0, 0]
    assert served_crops.read_rgb(tmp_path / "missing.png") is None


class BoxDetector:
    """Answers fixed boxes (in canvas pixels) image by image; None: no face."""

    type = "fake"
    framing = CropFraming(margin=0.1, lift=0.0, upright=True)

    def __init__(self, answers: list[list[FaceBox]]) -> None:
        self.answers = list(answers)
        self.frames: list[np.ndarray] = []

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        self.frames.append(rgb)
        return self.answers.pop(0)


def coloured(seed: int) -> np.ndarray:
    """A colour image whose gray differs under an RGB/BGR mix-up (red and blue unlike)."""
    image = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    image[..., 0] = 255 - image[..., 2]
    return image


def test_served_crops_are_the_pipelines_crops_of_the_central_face():
    tilted = FaceBox(top=70, right=122, bottom=122, left=70, eyes=((80.0, 90.0), (110.0, 100.0)))
    stray = FaceBox(top=0, right=30, bottom=30, left=0)
    detector = BoxDetector([[stray, tilted], []])
    images = [coloured(1), coloured(2)]
    found = served_crops.served_crops(images, detector, "pad")
    assert found.indices.tolist() == [0] and found.missed.tolist() == [1]
    expected = Pipeline(detector, served_crops._CropOnly()).crops(served_crops.canvas(images[0], "pad"), [tilted])
    assert found.crops.shape == (1, 48, 48) and found.crops.dtype == np.uint8
    assert np.array_equal(found.crops, expected)
    # the crop is gray by BT.601 from RGB: an upright crop of the BGR frame would differ
    swapped = Pipeline(detector, served_crops._CropOnly()).crops(served_crops.canvas(images[0][..., ::-1], "pad"),
                                                                 [tilted])
    assert not np.array_equal(found.crops, swapped)
    # upright: turned by the eye line, not a plain square cut
    straight = Pipeline(detector, served_crops._CropOnly()).crops(served_crops.canvas(images[0], "pad"),
                                                                  [FaceBox(top=70, right=122, bottom=122, left=70)])
    assert not np.array_equal(found.crops, straight)


def write_genki(root: Path, n_smile: int, n_other: int) -> None:
    for folder, count, seed in (("smile", n_smile, 10), ("non_smile", n_other, 20)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(str(root / folder / f"file{seed + i:04d}.jpg"), coloured(seed + i)[..., ::-1])


def test_load_genki_labels_found_faces_and_names_the_missed(tmp_path):
    write_genki(tmp_path, 3, 2)
    (tmp_path / "smile" / "file0099.jpg").write_bytes(b"not a jpeg")
    box = FaceBox(top=64, right=128, bottom=128, left=64)
    detector = BoxDetector([[box], [box], [box], [box], []])  # readable images in name order; the last: no face
    held = {"smile/file0099.jpg"}
    faces = genki.load_genki(tmp_path, "all", detector, holdout=held)
    assert faces.names == ["smile/file0010.jpg", "smile/file0011.jpg", "smile/file0012.jpg", "non_smile/file0020.jpg"]
    assert faces.smile.tolist() == [True, True, True, False]
    assert sorted(faces.missed) == ["non_smile/file0021.jpg", "smile/file0099.jpg"]
    assert faces.summary() == {"images": 6, "found": 4, "smile": {"images": 4, "found": 3},
                               "non_smile": {"images": 2, "found": 1}}
    assert faces.crops.shape == (4, 48, 48)
    held_out = genki.load_genki(tmp_path, "holdout", BoxDetector([]), holdout=held)
    assert held_out.names == [] and held_out.missed == ["smile/file0099.jpg"]


def test_blazeface_finds_a_tight_real_face_crop_on_the_pad_canvas():
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())
    tight = cv2.resize(photo[75:175, 175:275], (64, 64), interpolation=cv2.INTER_AREA)  # no margin, as GENKI's
    found = served_crops.served_crops([tight], build_detector("blazeface"), "pad")
    assert found.indices.tolist() == [0]
    assert abs(int(found.crops[0].mean()) - int(to_gray(tight).mean())) < 40


@pytest.mark.skipif(not SHARED_GENKI.is_dir(), reason=f"{SHARED_GENKI} is absent (GENKI is not shipped with the code)")
def test_committed_holdout_is_what_the_split_function_gives_on_the_shared_files():
    items = genki.list_files(SHARED_GENKI)
    committed = genki.read_holdout_file()
    assert genki.holdout_names(items) == committed
    assert len(committed) == round(0.2 * sum(f.smile for f in items)) + round(0.2 * sum(not f.smile for f in items))
    side = {}
    for item in items:  # every byte-duplicate group on one side
        assert side.setdefault(item.digest, item.name in committed) == (item.name in committed)


def test_load_split_served_keeps_found_faces_with_their_class(tmp_path):
    for name in ("happy", "neutral", "contempt"):
        (tmp_path / "split" / name).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / "split" / name / f"{i}.jpg"), coloured(i)[..., ::-1])
    box = FaceBox(top=64, right=128, bottom=128, left=64)
    detector = BoxDetector([[box], [], [box], [box]])  # happy/0, happy/1 (missed), neutral/0, neutral/1
    classes = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    faces, missed = served_crops.load_split_served(tmp_path / "split", detector, classes)
    assert faces.paths == ["split/happy/0.jpg", "split/neutral/0.jpg", "split/neutral/1.jpg"]
    assert faces.labels.tolist() == [3, 4, 4] and faces.images.shape == (3, 48, 48)
    assert missed == ["split/happy/1.jpg"]  # contempt is no class of the model: neither read nor missed
