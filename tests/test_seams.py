"""Seam and colour measures (eval/seams.py) against hand-computed values and a pixel-by-pixel loop."""

import numpy as np
import pytest

from eval.seams import hole_chroma, seam_jump, tone_shift


def _hole(h=8, w=8, box=(2, 6, 3, 7)):
    hole = np.zeros((1, h, w), bool)
    hole[0, box[0]:box[1], box[2]:box[3]] = True
    return hole


def test_flat_fill_in_flat_surroundings_gives_the_colour_step():
    hole = _hole()
    img = np.full((1, 8, 8, 3), 100, np.uint8)
    img[hole] = (130, 100, 70)  # mean |step| over channels = (30 + 0 + 30) / 3 = 20
    assert seam_jump(img, hole)[0] == pytest.approx(20 / 255)
    assert hole_chroma(img, hole)[0] == pytest.approx(60 / 255)  # max - min = 130 - 70
    truth = np.full_like(img, 100)
    assert tone_shift(img, truth, hole)[0] == pytest.approx(20 / 255)
    assert seam_jump(truth, hole)[0] == 0 and hole_chroma(truth, hole)[0] == 0


def test_seam_matches_a_pixel_loop_on_random_images():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (3, 9, 11, 3), dtype=np.uint8)
    holes = rng.random((3, 9, 11)) < 0.4
    got = seam_jump(img, holes)
    x = img.astype(float) / 255
    for n in range(3):
        steps = []
        for i in range(9):
            for j in range(11):
                for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                    a, b = i + di, j + dj
                    if 0 <= a < 9 and 0 <= b < 11 and holes[n, i, j] and not holes[n, a, b]:
                        steps.append(np.abs(x[n, i, j] - x[n, a, b]).mean())
        assert got[n] == pytest.approx(np.mean(steps))


def test_a_ramp_has_a_seam_only_across_its_slope():
    hole = _hole()
    ramp = np.repeat(np.repeat((np.arange(8) * 10)[None, None, :, None], 8, 1), 3, 3).astype(np.uint8)
    # horizontal neighbours step by 10, vertical ones by 0: the box has 4 + 4 horizontal and 4 + 4 vertical crossings
    assert seam_jump(ramp, hole)[0] == pytest.approx(0.5 * 10 / 255)


def test_no_hole_and_bad_shapes():
    img = np.zeros((2, 4, 4, 3), np.uint8)
    empty = np.zeros((2, 4, 4), bool)
    assert np.all(seam_jump(img, empty) == 0) and np.all(hole_chroma(img, empty) == 0)
    with pytest.raises(ValueError, match="holes"):
        seam_jump(img, np.zeros((2, 5, 4), bool))
