"""How well a fill blends with the known pixels around it: the seam at the hole's edge and the fill's colour.

All functions take uint8 images ``[N, H, W, 3]`` and bool holes ``[N, H, W]`` (True = missing) and return one float64
value per image. Compare every number with the same measure on the ground truth (real faces have edges too) and on
a classical inpainting (OpenCV Telea, smooth by construction).

- :func:`seam_jump`: the mean colour step across the hole boundary: over every pair of 4-neighbours (p in the hole,
  q known), ``mean_c |I[p, c] - I[q, c]| / 255``. A fill that does not continue its surroundings (another skin tone,
  a brightness offset) raises it.
- :func:`hole_chroma`: the mean saturation in the hole, ``(max_c - min_c) / 255`` per pixel: the exemplar's
  colouring copied into a grey or differently lit face shows up here.
- :func:`tone_shift`: ``|mean RGB of the fill - mean RGB of the ground truth in the hole| / 255`` (L1 over channels,
  divided by 3): a global colour cast of the fill, independent of its detail.
"""

from __future__ import annotations

import numpy as np

__all__ = ["seam_jump", "hole_chroma", "tone_shift"]


def _check(images: np.ndarray, holes: np.ndarray) -> None:
    if images.ndim != 4 or images.shape[-1] != 3 or holes.shape != images.shape[:3]:
        raise ValueError(f"expected images [N,H,W,3] and holes [N,H,W], got {images.shape} and {holes.shape}")


def seam_jump(images: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Per image: mean |inside - outside| colour step (0-1) over the 4-neighbour pairs that cross the hole's
    boundary (0 when the hole has no boundary)."""
    _check(images, holes)
    x = images.astype(np.float64) / 255.0
    total, count = np.zeros(len(x)), np.zeros(len(x))
    for axis in (1, 2):  # vertical and horizontal neighbours, both orders
        a, b = [slice(None)] * 3, [slice(None)] * 3
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        ha, hb = holes[tuple(a)], holes[tuple(b)]
        crossing = ha != hb  # one side in the hole, the other known
        step = np.abs(x[tuple(a)] - x[tuple(b)]).mean(-1)
        total += (step * crossing).sum((1, 2))
        count += crossing.sum((1, 2))
    return total / np.maximum(count, 1)


def hole_chroma(images: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Per image: mean (max - min over RGB) / 255 over hole pixels."""
    _check(images, holes)
    x = images.astype(np.float64)
    chroma = (x.max(-1) - x.min(-1)) / 255.0
    return (chroma * holes).sum((1, 2)) / np.maximum(holes.sum((1, 2)), 1)


def tone_shift(images: np.ndarray, truth: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Per image: |mean colour of ``images`` - mean colour of ``truth``| over the hole, averaged over RGB (0-1)."""
    _check(images, holes)
    _check(truth, holes)
    w = holes[..., None].astype(np.float64)
    n = np.maximum(w.sum((1, 2)), 1)
    mean = lambda im: (im.astype(np.float64) * w).sum((1, 2)) / n / 255.0  # noqa: E731  [N, 3]
    return np.abs(mean(images) - mean(truth)).mean(-1)
