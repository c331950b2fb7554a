"""Face-part masks: placed on the template's landmarks, carried by the face's alignment, usable from the CLI."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_tiny
from exegan import align as al
from exegan import regions

ROOT = Path(__file__).resolve().parent.parent
S = 256


def at(mask, point):
    x, y = point
    return bool(mask[int(y), int(x)])


def test_parts_sit_on_the_template_landmarks():
    eye_l, eye_r, nose, mouth_l, mouth_r = al.TEMPLATE * S
    mouth = (mouth_l + mouth_r) / 2
    m = {name: regions.region_in_square(name, S) for name in regions.REGIONS}
    assert at(m["eyes"], eye_l) and at(m["eyes"], eye_r) and not at(m["eyes"], nose) and not at(m["eyes"], mouth)
    assert at(m["mouth"], mouth) and not at(m["mouth"], nose) and not at(m["mouth"], eye_l)
    assert at(m["nose"], nose) and not at(m["nose"], mouth)
    assert at(m["brows"], eye_l - [0, 0.07 * S]) and not at(m["brows"], eye_l)  # above the eyes, not on them
    assert at(m["lower_face"], mouth) and at(m["lower_face"], mouth + [0, 0.15 * S])  # mouth and chin
    assert not at(m["lower_face"], nose) and not at(m["lower_face"], eye_l)
    assert all(at(m["face"], p) for p in al.TEMPLATE * S)
    for a, b in (("eyes", "mouth"), ("nose", "mouth"), ("eyes", "brows")):  # the nose bridge may touch the eyes
        assert not (m[a] & m[b]).any(), (a, b)
    assert all(m[name].sum() < m["face"].sum() for name in regions.REGIONS if name != "face")


def similarity(points, angle_deg, scale, shift):
    t = math.radians(angle_deg)
    r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) * scale
    return points @ r.T + shift


@pytest.mark.parametrize("angle", [0, 25, -40])
def test_parts_follow_the_face_in_a_photo(angle):
    """Landmarks of a face 2x larger than the template square, rotated and moved: each part's landmark lies in
    its mask, the area grows with the square of the face's size, nothing lies outside the photo."""
    size = (500, 400)
    small = similarity(al.TEMPLATE * 100, angle, 1.0, [150, 120])
    large = similarity(al.TEMPLATE * 200, angle, 1.0, [150, 100])
    for name, points in (("eyes", [0, 1]), ("nose", [2]), ("mouth", [])):
        m = regions.region_mask(name, large, size)
        assert m.shape == (400, 500)
        for i in points:
            assert at(m, large[i]), (name, i)
        if name == "mouth":
            assert at(m, large[3:].mean(0))
        ratio = m.sum() / regions.region_mask(name, small, size).sum()
        assert 3.7 < ratio < 4.3, (name, ratio)
    far = regions.region_mask("face", similarity(al.TEMPLATE * 100, angle, 1.0, [2000, 2000]), size)
    assert not far.any()  # a face outside the photo marks nothing


def test_unknown_region_and_missing_face_are_refused():
    with pytest.raises(ValueError, match="unknown face region 'ears'; choose one of eyes, brows"):
        regions.region_in_square("ears", 64)
    with pytest.raises(al.NoFaceError, match="no face found"):
        regions.face_region_mask(np.zeros((64, 64, 3), np.uint8), "eyes", faces=[])


def test_cli_region_fills_only_that_part(tmp_path):
    pytest.importorskip("cv2")
    try:
        detector = al.default_detector()
    except al.DetectorUnavailable as err:
        pytest.skip(str(err))
    make_tiny().save_pretrained(tmp_path / "m")
    photo = ROOT / "assets" / "examples" / "photo_tilted.png"
    r = subprocess.run([sys.executable, "-m", "exegan", "inpaint", "--model", str(tmp_path / "m"), "--image", str(photo),
                        "--region", "eyes", "--exemplar", str(ROOT / "assets" / "examples" / "exemplar_glasses.png"),
                        "--n", "1", "--seed", "3", "--out", str(tmp_path / "out")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    original = np.asarray(Image.open(photo).convert("RGB"))
    eyes = regions.face_region_mask(original, "eyes", detector=detector)
    out = np.asarray(Image.open(tmp_path / "out" / "photo_tilted_e1_s3.png"))
    changed = (out != original).any(-1)
    assert changed.any() and not (changed & ~eyes).any()  # only the eyes' part of the photo was filled
    assert changed[eyes].mean() > 0.5
    bad = subprocess.run([sys.executable, "-m", "exegan", "inpaint", "--image", str(photo), "--region", "ears",
                          "--exemplar", str(photo), "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'ears'" in bad.stderr
