"""Seeded mask generators (docs/official-implementation.md §6.1-6.3): convention 1 = hole, float32 [S, S] in {0, 1}."""

import numpy as np
import pytest
import torch

from exegan.masks import (center_mask, comod_mask, free_form_stroke, hole_ratio, make_mask, ratio_mask,
                          sample_rects, stroke_rect_mask, to_tensor)

GENERATORS = {
    "stroke_rect": lambda s, r: stroke_rect_mask(s, r),
    "comod": lambda s, r: comod_mask(s, r),
    "ratio": lambda s, r: ratio_mask(s, r, 0.3, 0.4),
}
BUCKETS = [(0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6)]


def _check_binary(m, size):
    assert isinstance(m, np.ndarray) and m.dtype == np.float32 and m.shape == (size, size)
    assert set(np.unique(m).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_determinism_and_seed_dependence(name):
    gen = GENERATORS[name]
    a, b = gen(64, 123), gen(64, 123)
    _check_binary(a, 64)
    assert np.array_equal(a, b)
    assert np.array_equal(a, gen(64, np.random.default_rng(123)))  # Generator and int seed agree
    assert not np.array_equal(a, gen(64, 124))


def test_center_mask():
    for s in (256, 64):
        m = center_mask(s)
        _check_binary(m, s)
        assert hole_ratio(m) == 0.25
    m = center_mask(256)
    assert m[64:192, 64:192].all() and m.sum() == 128 * 128


@pytest.mark.parametrize("size", [256, 64])
@pytest.mark.parametrize("low,high", BUCKETS)
def test_ratio_mask_lands_in_bucket(size, low, high):
    for seed in range(3):
        m = ratio_mask(size, seed, low, high)
        _check_binary(m, size)
        assert low <= hole_ratio(m) < high


def test_ratio_mask_narrow_bucket_and_bad_args():
    r = hole_ratio(ratio_mask(64, 0, 0.30, 0.31))
    assert 0.30 <= r < 0.31
    with pytest.raises(ValueError):
        ratio_mask(64, 0, 0.5, 0.4)


@pytest.mark.parametrize("size", [256, 64])
def test_training_masks_strictly_partial(size):
    for seed in range(6):
        for m in (stroke_rect_mask(size, seed), comod_mask(size, seed)):
            _check_binary(m, size)
            assert 0.0 < hole_ratio(m) < 1.0


def test_comod_hole_range():
    for seed in range(4):
        assert 0.5 < hole_ratio(comod_mask(64, seed, hole_range=(0.5, 0.8))) < 0.8


def test_rect_limits():
    counts, sides = [], []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        for max_count, side in ((4, 128), (9, 64)):
            rects = sample_rects(rng, 256, max_count, side)
            counts.append((max_count, len(rects)))
            for top, left, h, w in rects:
                assert 0 <= h <= side - 1 and 0 <= w <= side - 1
                assert 0 <= top and top + h <= 256 and 0 <= left and left + w <= 256
                sides.append((side, max(h, w)))
    for max_count in (4, 9):  # counts cover exactly 0..max_count (randint's exclusive upper bound)
        assert {c for mc, c in counts if mc == max_count} == set(range(max_count + 1))
    assert max(s for sd, s in sides if sd == 128) >= 120 and max(s for sd, s in sides if sd == 64) >= 56


@pytest.mark.parametrize("size", [256, 64])
def test_stroke_rect_without_strokes_is_union_of_rects(size):
    for seed in range(5):
        m = stroke_rect_mask(size, seed, num_strokes=0)
        rng = np.random.default_rng(seed)  # replay the same draws: large rectangles, then small ones
        rects = sample_rects(rng, size, 4, size // 2) + sample_rects(rng, size, 9, size // 4)
        ref = np.zeros((size, size), np.float32)
        for top, left, h, w in rects:
            assert max(h, w) <= size // 2 - 1
            ref[top:top + h, left:left + w] = 1
        assert np.array_equal(m, ref)
    assert np.array_equal(stroke_rect_mask(256, 7, max_large=0, max_small=0, num_strokes=0), np.zeros((256, 256)))


def test_free_form_stroke_is_local_when_length_zero():
    # length 0 and brush fixed at 24: every vertex is the start point, so the stroke is one disc of diameter 24
    for seed in range(5):
        m = free_form_stroke(seed, 256, max_vertex=20, max_length=0, min_brush=24, max_brush=24)
        _check_binary(m, 256)
        ys, xs = np.nonzero(m)
        if len(ys):
            assert ys.max() - ys.min() <= 25 and xs.max() - xs.min() <= 25


def test_helpers():
    t = to_tensor([center_mask(32), np.zeros((32, 32), np.float32)])
    assert t.shape == (2, 1, 32, 32) and t.dtype == torch.float32
    assert hole_ratio(t[0]) == 0.25 and hole_ratio(t) == 0.125
    assert np.array_equal(make_mask("center", 32), center_mask(32))
    assert np.array_equal(make_mask("stroke_rect", 64, 5), stroke_rect_mask(64, 5))
    assert 0.2 <= hole_ratio(make_mask("ratio", 64, 1, low=0.2, high=0.3)) < 0.3
