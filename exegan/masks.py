"""Seeded inpainting-mask generators (docs/official-implementation.md §6.1-6.3, §10.4 items 18-19).

Every generator returns a float32 numpy array [H, W] with values in {0, 1}, **1 = hole (missing), 0 = known**,
and takes ``rng``: a ``numpy.random.Generator``, an int seed, or None (fresh entropy). The same seed gives the
same mask. Drawing uses PIL.ImageDraw + numpy only. :func:`to_tensor` turns masks into a [B,1,H,W] tensor.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

__all__ = ["hole_ratio", "center_mask", "sample_rects", "free_form_stroke", "stroke_rect_mask", "comod_mask",
           "ratio_mask", "mixed_mask", "make_mask", "to_tensor"]


def _rng(rng) -> np.random.Generator:
    return np.random.default_rng(rng)  # a Generator is returned unchanged


def hole_ratio(mask) -> float:
    """Fraction of hole pixels (mask > 0.5) of a numpy array or tensor of any shape."""
    if isinstance(mask, torch.Tensor):
        return float((mask > 0.5).float().mean())
    return float(np.mean(np.asarray(mask) > 0.5))


def center_mask(size: int = 256) -> np.ndarray:
    """Fixed square hole [S/4 : 3S/4]^2 (128x128 at 256, hole ratio 0.25), the paper's "Fixed 128x128"
    (docs/official-implementation.md §6.3)."""
    m = np.zeros((size, size), np.float32)
    m[size // 4:3 * size // 4, size // 4:3 * size // 4] = 1.0
    return m


# ------------------------------------------ docs/official-implementation.md §6.1: train.py stroke + rectangle masks
def sample_rects(rng, size: int, max_count: int, side: int) -> list[tuple[int, int, int, int]]:
    """Rectangles (top, left, h, w) of ``generate_stroke_rect_mask`` (docs/official-implementation.md §6.1,
    §10.4 item 18).

    count = randint(0, max_count + 1); each side = side + randint(-side, 0), i.e. 0..side-1 independently;
    top-left = randint(0, S - side_len) per axis (numpy's exclusive upper bound, as in the authors' code).
    """
    rng = _rng(rng)
    rects = []
    for _ in range(int(rng.integers(0, max_count + 1))):
        h, w = side + int(rng.integers(-side, 0)), side + int(rng.integers(-side, 0))
        rects.append((int(rng.integers(0, size - h)), int(rng.integers(0, size - w)), h, w))
    return rects


def free_form_stroke(rng, size: int = 256, max_vertex: int = 20, max_length: int = 100,
                     min_brush: int = 10, max_brush: int = 24, max_angle: int = 360) -> np.ndarray:
    """One GMCNN-style free-form stroke (docs/official-implementation.md §6.1), float32 [S, S] in {0, 1}, 1 = stroke.

    num_vertex = 0..max_vertex and the start point uniform in the image. Per vertex: angle 0..max_angle deg,
    mirrored to 2pi - angle on even vertices; length 0..max_length; brush width min..max_brush rounded down to
    even (at least 1); next point = start + length (cos, sin), clipped to the image. Each segment is a line of
    that width with round caps (cv2 thick lines have round caps; PIL's do not, so discs of diameter width are
    added), plus a 1-px circle outline of radius width // 2 at every vertex and at the end point. A stroke with
    0 vertices draws nothing.
    """
    rng = _rng(rng)
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    y, x = int(rng.integers(0, size)), int(rng.integers(0, size))
    width = 0
    for i in range(int(rng.integers(0, max_vertex + 1))):
        angle = math.radians(int(rng.integers(0, max_angle + 1)))
        if i % 2 == 0:
            angle = 2 * math.pi - angle
        length = int(rng.integers(0, max_length + 1))
        width = max(1, int(rng.integers(min_brush, max_brush + 1)) // 2 * 2)
        ny = int(np.clip(y + length * math.cos(angle), 0, size - 1))
        nx = int(np.clip(x + length * math.sin(angle), 0, size - 1))
        r = width / 2.0
        draw.line([(x, y), (nx, ny)], fill=1, width=width)
        for px, py in ((x, y), (nx, ny)):
            draw.ellipse([px - r, py - r, px + r, py + r], fill=1)
        draw.ellipse([x - width // 2, y - width // 2, x + width // 2, y + width // 2], outline=1, width=1)
        y, x = ny, nx
    if width:
        draw.ellipse([x - width // 2, y - width // 2, x + width // 2, y + width // 2], outline=1, width=1)
    return np.asarray(img, dtype=np.float32)


def stroke_rect_mask(size: int = 256, rng=None, mask_size: Sequence[int] | None = None, num_strokes: int = 10,
                     max_large: int = 4, max_small: int = 9) -> np.ndarray:
    """Official train.py mask (docs/official-implementation.md §6.1): float32 [S, S], 1 = hole.

    0..max_large rectangles with sides 0..mask_size-1, then 0..max_small with sides 0..mask_size/2-1, then
    ``num_strokes`` free-form strokes (max 20 vertices, length 100, brush 10..24). mask_size defaults to S/2
    ((128, 128) at 256, official). For S != 256 the stroke pixel constants (length, brush widths) are scaled
    by S/256; at 256 everything is official. The hole ratio is > 0 and < 1 in practice but not guaranteed.
    """
    rng = _rng(rng)
    mh, mw = mask_size if mask_size is not None else (size // 2, size // 2)
    if mh != mw:
        raise ValueError("only square mask_size is supported")
    m = np.zeros((size, size), np.float32)
    for top, left, h, w in sample_rects(rng, size, max_large, mh) + sample_rects(rng, size, max_small, mh // 2):
        m[top:top + h, left:left + w] = 1.0
    s = size / 256.0
    for _ in range(num_strokes):
        stroke = free_form_stroke(rng, size, 20, max(1, round(100 * s)), max(1, round(10 * s)),
                                  max(1, round(24 * s)))
        np.maximum(m, stroke, out=m)
    return m


# ------------------------------------------ docs/official-implementation.md §6.2: CoMod-GAN large masks
def _comod_known(size: int, rng: np.random.Generator) -> np.ndarray:
    """One CoMod-GAN mask before the ratio check, 1 = known (its own convention), float32 [S, S]."""
    known = np.ones((size, size), np.float32)

    def multi_fill(max_tries: int, max_side: int) -> None:
        for _ in range(int(rng.integers(max_tries))):
            w, h = int(rng.integers(max_side)), int(rng.integers(max_side))
            x = int(rng.integers(-(w // 2), size - w + w // 2))
            y = int(rng.integers(-(h // 2), size - h + h // 2))
            known[max(y, 0):min(y + h, size), max(x, 0):min(x + w, size)] = 0.0

    multi_fill(10, size // 2)
    multi_fill(5, size)
    # RandomBrush(20, S): widths 12..48 px are official at 256 (and CoMod's 512); shrunk by S/256 below 256
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    avg_r = math.sqrt(2.0) * size / 8.0
    mean_angle, angle_range = 2 * math.pi / 5, 2 * math.pi / 15
    ws = min(1.0, size / 256.0)
    for _ in range(int(rng.integers(20))):
        n = int(rng.integers(4, 18))
        a_lo, a_hi = mean_angle - rng.uniform(0, angle_range), mean_angle + rng.uniform(0, angle_range)
        angles = [rng.uniform(a_lo, a_hi) for _ in range(n)]
        angles = [2 * math.pi - a if i % 2 == 0 else a for i, a in enumerate(angles)]
        pts = [(int(rng.integers(0, size)), int(rng.integers(0, size)))]
        for a in angles:
            r = float(np.clip(rng.normal(avg_r, avg_r // 2), 0, 2 * avg_r))
            px = float(np.clip(pts[-1][0] + r * math.cos(a), 0, size))
            py = float(np.clip(pts[-1][1] + r * math.sin(a), 0, size))
            pts.append((int(px), int(py)))
        width = max(1, int(rng.uniform(12, 48) * ws))
        draw.line(pts, fill=1, width=width)
        for px, py in pts:
            draw.ellipse([px - width // 2, py - width // 2, px + width // 2, py + width // 2], fill=1)
    known *= 1.0 - np.asarray(img, dtype=np.float32)
    if rng.random() > 0.5:
        known = known[::-1]
    if rng.random() > 0.5:
        known = known[:, ::-1]
    return np.ascontiguousarray(known)


def comod_mask(size: int = 256, rng=None, hole_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """CoMod-GAN large mask of train_largeMask.py (docs/official-implementation.md §6.2), float32 [S, S], 1 = hole.

    MultiFill(10, S/2), MultiFill(5, S), then RandomBrush(20, S) strokes, random flips; redrawn until the hole
    ratio lies in the open interval ``hole_range`` and strictly inside (0, 1). The authors' PIL transpose
    calls are no-ops (docs/official-implementation.md §10.4 item 19) and are omitted.
    """
    rng = _rng(rng)
    while True:
        m = 1.0 - _comod_known(size, rng)
        r = hole_ratio(m)
        if hole_range[0] < r < hole_range[1] and 0.0 < r < 1.0:
            return m


# ------------------------------------------ evaluation buckets (docs/official-implementation.md §6.3)
def ratio_mask(size: int = 256, rng=None, low: float = 0.1, high: float = 0.2, max_steps: int = 20000) -> np.ndarray:
    """Free-form mask with hole ratio in [low, high), a stand-in for the NVIDIA irregular-mask buckets
    (docs/official-implementation.md §6.3).

    Algorithm: grow GMCNN-style strokes one segment at a time (length 0..100, brush 10..24, both scaled by
    S/256; a new stroke starts at a random point every 1..20 segments). A segment whose addition would push the
    ratio to >= high is discarded and another is drawn; after 50 discards in a row the mask restarts empty. The
    first time the ratio is >= low the mask is returned. A single segment covers at most ~4.5% of the image, less
    than a 0.1-wide bucket, so buckets of that width are reached without discards in a few dozen segments.
    """
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got {low}, {high}")
    rng = _rng(rng)
    s = size / 256.0
    max_len, lo_w, hi_w = max(1, round(100 * s)), max(1, round(10 * s)), max(1, round(24 * s))
    img, misses, left, x, y = Image.new("L", (size, size), 0), 0, 0, 0, 0
    for _ in range(max_steps):
        if left == 0:  # start a new stroke
            left, x, y = int(rng.integers(1, 21)), int(rng.integers(0, size)), int(rng.integers(0, size))
        angle = rng.uniform(0, 2 * math.pi)
        length = int(rng.integers(0, max_len + 1))
        width = max(1, int(rng.integers(lo_w, hi_w + 1)) // 2 * 2)
        nx = int(np.clip(x + length * math.cos(angle), 0, size - 1))
        ny = int(np.clip(y + length * math.sin(angle), 0, size - 1))
        trial = img.copy()
        draw, r = ImageDraw.Draw(trial), width / 2.0
        draw.line([(x, y), (nx, ny)], fill=1, width=width)
        for px, py in ((x, y), (nx, ny)):
            draw.ellipse([px - r, py - r, px + r, py + r], fill=1)
        arr = np.asarray(trial, dtype=np.float32)
        ratio = float(arr.mean())
        if ratio >= high:  # overshoot: discard this segment
            misses += 1
            if misses >= 50:
                img, misses, left = Image.new("L", (size, size), 0), 0, 0
            continue
        img, misses, left, x, y = trial, 0, left - 1, nx, ny
        if ratio >= low:
            return arr
    raise RuntimeError(f"no mask with hole ratio in [{low}, {high}) after {max_steps} steps")


def mixed_mask(size: int = 256, rng=None) -> np.ndarray:
    """Not in the paper: the mask mix the bundled default model is trained on, so that it sees what the demo and
    the evaluation ask of it. Per draw: the center square (p = 0.2), an official stroke_rect mask (p = 0.3, about
    60% hole at 64 px), or a free-form ``ratio_mask`` from a bucket [k/10, k/10 + 0.1) with k uniform in 1..5
    (p = 0.5). float32 [S, S], 1 = hole.
    """
    rng = _rng(rng)
    u = rng.random()
    if u < 0.2:
        return center_mask(size)
    if u < 0.5:
        return stroke_rect_mask(size, rng)
    k = int(rng.integers(1, 6))
    return ratio_mask(size, rng, k / 10, k / 10 + 0.1)


def make_mask(kind: str, size: int = 256, rng=None, **kwargs) -> np.ndarray:
    """Dispatch by name: "stroke_rect", "comod", "center", "mixed" or "ratio" (kwargs low, high)."""
    if kind == "center":
        return center_mask(size)
    fn = {"stroke_rect": stroke_rect_mask, "comod": comod_mask, "ratio": ratio_mask, "mixed": mixed_mask}[kind]
    return fn(size, rng, **kwargs)


def to_tensor(masks, device=None) -> torch.Tensor:
    """[H,W] array or a sequence / [B,H,W] stack of them -> float32 tensor [B,1,H,W] (1 = hole)."""
    arr = np.asarray(masks, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    return torch.from_numpy(np.ascontiguousarray(arr))[:, None].to(device)
