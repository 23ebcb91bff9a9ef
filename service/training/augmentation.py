"""Training-time augmentation of face batches: flips, small rotations, zooms, shifts, contrast.

Each face gets one random affine map (flip, rotation, zoom and shift composed into a single
matrix), so a batch is warped by one ImageProjectiveTransform call instead of one pass per
effect, which matters on a 2-core CPU. Augmentation lives in the input pipeline, not in the
saved model, so inference graphs stay free of random layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random effects; faces are already centred, so every effect stays small."""

    max_rotation_deg: float = 10.0
    max_zoom: float = 0.10  # scale drawn from [1 - max_zoom, 1 + max_zoom]
    max_shift: float = 0.10  # fraction of the side length
    max_contrast: float = 0.20  # contrast factor drawn from [1 - c, 1 + c]
    max_brightness: float = 20.0  # added grey levels, on the 0..255 scale


def inverse_affine_params(
    flip: np.ndarray, angle: np.ndarray, zoom: np.ndarray, shift_x: np.ndarray, shift_y: np.ndarray, size: int
) -> np.ndarray:
    """Projective-transform rows [a0 a1 a2 b0 b1 b2 0 0] mapping output pixels to input pixels.

    The forward warp flips (x -> -x about the centre), rotates by ``angle`` radians, scales by
    ``zoom`` and shifts by (shift_x, shift_y) pixels. ImageProjectiveTransform needs the inverse
    map, output -> input: p_in = M (p_out - c - t) + c with M = F R(-angle) / zoom, where F is the
    flip (its own inverse). Works on numpy arrays or tensors of shape [N]; returns [N, 8].
    """
    lib = tf if isinstance(angle, tf.Tensor) else np
    centre = (size - 1) / 2.0
    sign = 1.0 - 2.0 * flip  # -1 for flipped faces
    cos, sin = lib.cos(angle) / zoom, lib.sin(angle) / zoom
    m00, m01, m10, m11 = sign * cos, sign * sin, -sin, cos
    x0, y0 = centre + shift_x, centre + shift_y
    a2 = centre - m00 * x0 - m01 * y0
    b2 = centre - m10 * x0 - m11 * y0
    zeros = lib.zeros_like(angle)
    return lib.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)


def _uniform(n, limit: float, seed=None):
    return tf.random.uniform([n], -limit, limit, seed=seed)


def augment_batch(images: tf.Tensor, config: AugmentConfig = AugmentConfig()) -> tf.Tensor:
    """Randomly warp and re-light a float32 batch [N, H, W, 1] of 0..255 pixels; output stays in 0..255."""
    n, size = tf.shape(images)[0], images.shape[1]
    flip = tf.cast(tf.random.uniform([n]) < 0.5, tf.float32)
    angle = _uniform(n, np.deg2rad(config.max_rotation_deg))
    zoom = 1.0 + _uniform(n, config.max_zoom)
    shift_x = _uniform(n, config.max_shift * size)
    shift_y = _uniform(n, config.max_shift * size)
    transforms = inverse_affine_params(flip, angle, zoom, shift_x, shift_y, size)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",  # mirrored borders look more like a face than black corners
    )
    return _jitter_light(warped, config)


def _jitter_light(images: tf.Tensor, config: AugmentConfig) -> tf.Tensor:
    """Random contrast about each face's mean plus a random brightness offset, clipped to 0..255."""
    n = tf.shape(images)[0]
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = tf.reshape(1.0 + _uniform(n, config.max_contrast), [-1, 1, 1, 1])
    brightness = tf.reshape(_uniform(n, config.max_brightness), [-1, 1, 1, 1])
    return tf.clip_by_value((images - mean) * contrast + mean + brightness, 0.0, 255.0)


# ---------------------------------------------------------------- camera-like effects (numpy)


@dataclass(frozen=True)
class CameraConfig:
    """How often each camera-like effect is applied to a face, and how strongly. The effects
    are what a street camera adds to a face that FER2013's studio-like crops lack: softness of
    small or moving faces, uneven light, sensor noise, compression, things in front of the face."""

    p_occlusion: float = 0.15
    p_lighting: float = 0.3
    p_gamma: float = 0.3
    p_blur: float = 0.2
    p_low_resolution: float = 0.2
    p_noise: float = 0.3
    p_jpeg: float = 0.3
    max_gradient: float = 0.5  # a light ramp across the face, from 1 down to 1 - this
    gamma_range: tuple[float, float] = (0.6, 1.6)
    blur_sigma: tuple[float, float] = (0.4, 1.0)
    low_resolution_side: tuple[int, int] = (20, 40)  # px the face had before it was enlarged to 48
    noise_sd: tuple[float, float] = (2.0, 10.0)  # grey levels
    jpeg_quality: tuple[int, int] = (25, 85)


def camera_effects(faces: np.ndarray, rng: np.random.Generator, config: CameraConfig = CameraConfig()) -> np.ndarray:
    """Apply random camera-like effects to a gray uint8 batch [N, H, W]; returns a new batch.
    In scene order: occlusion, light, optics and resolution, sensor noise, compression."""
    out = np.empty_like(faces)
    for index, face in enumerate(faces):
        out[index] = _one_face(face.astype(np.float32), rng, config)
    return out


def _one_face(face: np.ndarray, rng: np.random.Generator, c: CameraConfig) -> np.ndarray:
    steps = ((c.p_occlusion, _occlude), (c.p_lighting, _light_gradient), (c.p_gamma, _gamma),
             (c.p_blur, _blur), (c.p_low_resolution, _low_resolution), (c.p_noise, _noise))
    for probability, effect in steps:
        if rng.random() < probability:
            face = effect(face, rng, c)
    face = np.clip(np.rint(face), 0, 255).astype(np.uint8)
    return _jpeg(face, rng, c) if rng.random() < c.p_jpeg else face


def _occlude(face, rng, c):
    """Sunglasses (a dark band over the eyes), a mask (a flat patch over mouth and nose) or a
    hand or object (a flat patch of random grey somewhere on the face)."""
    size = face.shape[0]
    kind = rng.integers(3)
    if kind == 0:
        top, bottom, left, right = int(0.28 * size), int(0.46 * size), int(0.12 * size), int(0.88 * size)
        level = rng.uniform(0, 50)
    elif kind == 1:
        top, bottom, left, right = int(rng.uniform(0.55, 0.65) * size), size, int(0.12 * size), int(0.88 * size)
        level = rng.uniform(120, 255)
    else:
        side = int(rng.uniform(0.2, 0.4) * size)
        top, left = rng.integers(0, size - side, 2)
        bottom, right, level = top + side, left + side, rng.uniform(0, 255)
    face = face.copy()
    face[top:bottom, left:right] = level
    return face


def _light_gradient(face, rng, c):
    size = face.shape[0]
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    ramp = (xs * np.cos(angle) + ys * np.sin(angle)) + 0.5  # 0..1 across the face, roughly
    return face * (1 - rng.uniform(0, c.max_gradient) * np.clip(ramp, 0, 1))


def _gamma(face, rng, c):
    return 255.0 * (np.clip(face, 0, 255) / 255.0) ** rng.uniform(*c.gamma_range)


def _blur(face, rng, c):
    return cv2.GaussianBlur(face, (0, 0), rng.uniform(*c.blur_sigma))


def _low_resolution(face, rng, c):
    size = face.shape[0]
    side = int(rng.integers(c.low_resolution_side[0], c.low_resolution_side[1] + 1))
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)


def _noise(face, rng, c):
    return face + rng.normal(0, rng.uniform(*c.noise_sd), face.shape)


def _jpeg(face: np.ndarray, rng, c) -> np.ndarray:
    quality = int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1))
    _, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
