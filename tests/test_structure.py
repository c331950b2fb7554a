"""eval.structure: the colour-blind, network-free guidance measure."""

import numpy as np
import pytest

from eval.structure import hole_structure


def faces(n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 24, 24, 3), dtype=np.uint8)


def box(n=4):
    holes = np.zeros((n, 24, 24), bool)
    holes[:, 6:18, 6:18] = True
    return holes


def test_the_exemplars_own_pixels_score_one_whatever_their_brightness_and_tint():
    a, holes = faces(), box()
    lit = np.clip(a.astype(float) * 0.5 + 40, 0, 255).round().astype(np.uint8)  # darker, offset: same structure
    assert np.allclose(hole_structure(a, a, holes), 1)
    assert (hole_structure(lit, a, holes) > 0.99).all()
    assert np.allclose(hole_structure(a, 255 - a, holes), -1, atol=1e-3)  # inverted luminance


def test_only_the_hole_counts_and_flat_fills_score_zero():
    a, b, holes = faces(seed=1), faces(seed=2), box()
    mixed = b.copy()
    mixed[holes] = a[holes]  # b outside, a inside
    assert np.allclose(hole_structure(mixed, a, holes), 1)
    flat = np.full_like(a, 128)
    assert np.allclose(hole_structure(flat, a, holes), 0)
    assert np.allclose(hole_structure(a, a, np.zeros_like(holes)), 0)


def test_matches_a_direct_correlation_and_ranks_exemplars():
    a, b, holes = faces(seed=3), faces(seed=4), box()
    for i in range(len(a)):  # the textbook Pearson correlation of the hole's luminance
        ya = a[i][holes[i]].astype(float) @ [0.299, 0.587, 0.114]
        yb = b[i][holes[i]].astype(float) @ [0.299, 0.587, 0.114]
        assert hole_structure(a[i:i + 1], b[i:i + 1], holes[i:i + 1])[0] == pytest.approx(np.corrcoef(ya, yb)[0, 1])
    noisy = np.clip(a.astype(int) + np.random.default_rng(5).integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    assert (hole_structure(noisy, a, holes) > hole_structure(noisy, b, holes)).all()


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="expected two"):
        hole_structure(faces(), faces()[:2], box())
