"""Training-time augmentation of face batches: flips, small rotations, zooms, shifts, contrast.

Each face gets one random affine map (flip, rotation, zoom and shift composed into a single
matrix), so a batch is warped by one ImageProjectiveTransform call instead of one pass per
effect, which matters on a 2-core CPU. Augmentation lives in the input pipeline, not in the
saved model, so inference graphs stay free of random layers.
"""

from __future__ import annotations

from dataclasses import dataclass

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
