"""The synthetic-faces check (eval/synthetic.py), its offline perceptual distance and the training mask mix."""

import cv2
import numpy as np
import pytest
import torch

from conftest import make_tiny
from eval.sface_perceptual import SFacePerceptual
from eval.synthetic import CheckConfig, check_masks, format_markdown, held_out_faces, requirements, run_check
from exegan import masks


def test_mixed_mask_is_seeded_binary_and_mixes_the_three_families():
    assert np.array_equal(masks.mixed_mask(64, 3), masks.mixed_mask(64, 3))
    center = masks.center_mask(64)
    rng = np.random.default_rng(0)
    draws = [masks.make_mask("mixed", 64, rng) for _ in range(300)]
    assert all(set(np.unique(m)) <= {0.0, 1.0} for m in draws)
    is_center = np.array([np.array_equal(m, center) for m in draws])
    ratios = np.array([masks.hole_ratio(m) for m in draws])
    assert 0.12 < is_center.mean() < 0.28  # p = 0.2
    other = ratios[~is_center]
    assert other.min() >= 0.1 and (other < 0.6).mean() > 0.6  # free-form buckets 0.1..0.6 are half of all draws
    assert (other >= 0.6).mean() > 0.05  # stroke_rect: about 60% at 64 px


@pytest.fixture(scope="module")
def perceptual():
    return SFacePerceptual()


def test_sface_perceptual_matches_an_independent_hooked_computation(perceptual):
    faces = held_out_faces(4)
    other = faces[::-1].copy()
    assert perceptual.info["taps"] == perceptual.taps and len(perceptual.taps) == 5
    got = perceptual(faces, other)
    assert np.all(perceptual(faces, faces) == 0) and np.allclose(got, perceptual(other, faces), rtol=1e-6)

    # independent: hooks on the unmodified network, the formula written out per scale
    net = perceptual.layers
    body = torch.nn.Sequential(*net)
    acts = {}
    hooks = [body[i].register_forward_hook(lambda m, a, out, i=i: acts.setdefault(i, []).append(out))
             for i in perceptual.taps]
    with torch.no_grad():
        for batch in (faces, other):
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).double()
            x = torch.nn.functional.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False)
            body.double()(x)
    body.float()
    for h in hooks:
        h.remove()
    want = np.zeros(len(faces))
    for i in perceptual.taps:
        a, b = acts[i]
        assert a.shape[-1] in (112, 56, 28, 14, 7)
        na = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        nb = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        want += ((na - nb) ** 2).sum(1).mean((1, 2)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-3)
    assert np.all(got > 0.1)  # different faces are far apart (identical ones are 0)


def test_check_masks_and_held_out_faces_are_seeded():
    a, b = check_masks(3, 64, 5), check_masks(3, 64, 5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    r = a["ratio30-40"].mean((1, 2))
    assert np.all((r >= 0.3) & (r < 0.4)) and a["center"][0].mean() == 0.25
    faces = held_out_faces(3, offset=2)
    assert faces.dtype == np.uint8 and faces.shape == (3, 64, 64, 3)
    assert np.array_equal(faces[0], held_out_faces(1, offset=2)[0])


def test_run_check_on_a_random_model(perceptual):
    model = make_tiny()
    cfg = CheckConfig(n=4, n_samples=2)
    r = run_check(model, cfg)
    # known pixels: 2 masks x 4 faces (quality) + 2 x 4 (guidance) + 2 seeds x 4 (diversity) outputs, none changed outside the hole
    assert r["known_pixels"] == {"outputs_checked": 24, "outputs_changed_outside_hole": 0}
    # the Telea row equals a direct computation
    faces = held_out_faces(4, size=32)
    hole = check_masks(4, 32, cfg.mask_seed)["center"]
    telea = np.stack([cv2.inpaint(f, h.astype(np.uint8) * 255, 3.0, cv2.INPAINT_TELEA) for f, h in zip(faces, hole)])
    l1 = [np.abs(t.astype(float) - f).mean(-1)[h].mean() / 255 for t, f, h in zip(telea, faces, hole)]
    assert r["quality"]["center"]["telea"]["l1_hole"] == pytest.approx(np.mean(l1), rel=1e-9)
    assert r["quality"]["center"]["telea"]["sface_trunk"] == pytest.approx(perceptual(telea, faces).mean(), rel=1e-6)
    g = r["guidance"]
    assert g["decisions"] == 8 and all(0 <= g[k] <= 1 for k in g if k.endswith("rate"))
    # the structure rows equal eval.structure applied to the guidance outputs, regenerated here
    from eval.structure import hole_structure

    n, a_idx = 4, [1, 2, 3, 0]
    b_idx = [(i + n // 2) % n if (i + n // 2) % n not in (i, (i + 1) % n) else (i + 2) % n for i in range(n)]
    outs = [model.inpaint(faces[i], hole[i].astype(np.uint8) * 255, [faces[a_idx[i]], faces[b_idx[i]]],
                          n_samples=1, seed=cfg.sample_seed, output_type="np") for i in range(n)]
    out_a, out_b = np.stack([np.asarray(o[0]) for o in outs]), np.stack([np.asarray(o[1]) for o in outs])
    ex_a, ex_b = faces[a_idx], faces[b_idx]
    margin = np.concatenate([hole_structure(out_a, ex_a, hole) - hole_structure(out_a, ex_b, hole),
                             hole_structure(out_b, ex_b, hole) - hole_structure(out_b, ex_a, hole)])
    assert g["structure_margin"] == pytest.approx(margin.mean()) and g["structure_rate"] == (margin > 0).mean()
    # the independent judge's rows (dlib, when installed) score the same outputs by distance, lower = closer
    from eval.dlib_identity import distance, load_dlib_descriptor

    judge, info = load_dlib_descriptor("auto")
    if judge is None:
        assert g["independent"] == info and "Independent identity judge not run" in format_markdown(r)
    else:
        ind, e = g["independent"], judge.embed
        margin = np.concatenate([distance(e(out_a), e(ex_b)) - distance(e(out_a), e(ex_a)),
                                 distance(e(out_b), e(ex_a)) - distance(e(out_b), e(ex_b))])
        assert ind["identity_margin"] == pytest.approx(margin.mean()) and ind["identity_rate"] == (margin > 0).mean()
        assert "| identity, dlib descriptor: d(out_A, A) < d(out_A, B) |" in format_markdown(r)
        assert "used nowhere in training (dlib)" in requirements(r)
    assert r["diversity"]["l1_hole"] > 0  # a random model with noise still varies with the seed
    text = format_markdown(r)
    assert "| center | 25% | telea |" in text and "0 of 24 outputs differ" in text
    assert "| structure (no network): NCC(out_A, A) > NCC(out_A, B) |" in text
    # the model card's requirement table reads the same numbers: a random model keeps known pixels, loses to Telea
    table = requirements(r)
    assert "| known pixels bit-exact | 0 of 24 changed | yes |" in table
    assert "| L1 in hole at least 10% below Telea, center |" in table and "| **no** |" in table
    # seams: the ground truth has no tone shift, Telea continues the boundary far better than random noise, and the
    # cross-exemplar row covers both guidance outputs of every face
    seams = r["seams"]["center"]
    assert seams["ground truth"]["tone_shift"] == 0
    assert seams["telea"]["seam"] < 0.5 * seams["exegan self-exemplar"]["seam"]
    assert set(r["seams"]) == {"center", "ratio30-40"} and "exegan cross-exemplar" in seams
    assert "| center | exegan cross-exemplar |" in text and "seam: cross-exemplar fills" in table
