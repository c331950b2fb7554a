"""exegan.align: similarity fit, FFHQ-style warp, conservative mask warp, feathered paste-back (known pixels
bit-exact), the YuNet detector on the project's drawn faces, and the detect -> align -> inpaint -> paste chain."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_tiny
from exegan import align as al

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_examples", ROOT / "assets" / "make_examples.py")
mx = sys.modules.setdefault("make_examples", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(mx)

RNG = np.random.default_rng(0)


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), tx], [scale * math.sin(a), scale * math.cos(a), ty],
                     [0, 0, 1]])


def apply(t: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return (t[:2, :2] @ pts.T).T + t[:2, 2]


def smooth_photo(w: int, h: int) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.stack([128 + 100 * np.sin(xx / 17), 128 + 100 * np.cos(yy / 23), 128 + 60 * np.sin((xx + yy) / 31)], -1)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def face_in_photo(w=300, h=240, angle=15.0, side=120.0, centre=(170.0, 110.0), size=32):
    """Landmarks of a face whose aligned square (``side`` px, rotated by ``angle``) is centred at ``centre``."""
    t = similarity(angle, side / size, 0, 0)
    t[:2, 2] = np.asarray(centre) - apply(t, np.array([[size / 2, size / 2]]))[0]
    return apply(t, al.TEMPLATE * size), t


# ----------------------------------------------------------------------------------------------- geometry
def test_template_is_the_one_the_examples_are_drawn_on():
    keys = ["eye_r", "eye_l", "nose", "mouth_r", "mouth_l"]
    np.testing.assert_allclose(np.array([mx.TEMPLATE[k] for k in keys]), al.TEMPLATE)


def test_estimate_similarity_recovers_a_known_transform():
    t = similarity(-23.0, 1.7, 12.5, -4.0)
    src = RNG.uniform(0, 100, (5, 2))
    np.testing.assert_allclose(al.estimate_similarity(src, apply(t, src)), t, atol=1e-9)
    mirrored = src * [-1, 1]
    assert np.linalg.det(al.estimate_similarity(src, mirrored)[:2, :2]) > 0  # never a reflection
    with pytest.raises(ValueError):
        al.estimate_similarity(np.zeros((5, 2)), src)


def test_alignment_maps_landmarks_onto_the_template():
    lm, t = face_in_photo()
    a = al.alignment_for(lm, 32, (300, 240))
    np.testing.assert_allclose(apply(a.matrix, lm), al.TEMPLATE * 32, atol=1e-9)
    assert a.zoom == pytest.approx(120 / 32) and not a.identity
    assert a.angle == pytest.approx(15.0)
    wider = al.alignment_for(lm, 32, (300, 240), scale=1.5)
    assert wider.zoom == pytest.approx(1.5 * a.zoom)


def test_already_aligned_crop_is_used_as_is():
    photo = smooth_photo(64, 64)
    a = al.alignment_for(al.TEMPLATE * 64 + 0.5, 64, (64, 64))
    assert a.identity
    assert np.array_equal(np.asarray(al.warp_to_crop(photo, a)), np.asarray(photo))
    hole = np.zeros((64, 64), bool)
    hole[20:40, 10:50] = True
    result = Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    out, info = al.paste_back(photo, hole, result, a)
    expect = np.where(hole[..., None], np.asarray(result), np.asarray(photo))
    assert np.array_equal(np.asarray(out), expect) and info.filled == hole.sum()


def test_warp_then_paste_back_reproduces_the_photo():
    photo = smooth_photo(300, 240)
    lm, _ = face_in_photo(side=120.0)
    a = al.alignment_for(lm, 128, photo.size)
    crop = al.warp_to_crop(photo, a)
    hole = np.zeros((240, 300), bool)
    hole[80:140, 140:200] = True
    out, info = al.paste_back(photo, hole, crop, a, feather=0)
    err = np.abs(np.asarray(out, np.int16) - np.asarray(photo, np.int16))[hole]
    assert info.filled == hole.sum() and info.unfilled == 0
    assert err.mean() < 3 and err.max() < 40  # only resampling error


def test_paste_back_changes_only_the_hole_bit_exact():
    photo = Image.fromarray(RNG.integers(0, 256, (150, 200, 3), dtype=np.uint8))
    lm, _ = face_in_photo(200, 150, angle=-30, side=90, centre=(100, 70))
    a = al.alignment_for(lm, 32, photo.size)
    yy, xx = np.mgrid[0:150, 0:200]
    hole = ((xx - 100) / 30) ** 2 + ((yy - 70) / 20) ** 2 < 1
    result = Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    out, info = al.paste_back(photo, hole, result, a)
    o, p = np.asarray(out), np.asarray(photo)
    assert np.array_equal(o[~hole], p[~hole])
    assert (o[hole] != p[hole]).any(axis=-1).mean() > 0.9
    assert info.filled == hole.sum() and info.feather == pytest.approx(a.zoom)


def test_feather_blends_only_inside_the_hole():
    photo = Image.new("RGB", (200, 200), (0, 0, 0))
    lm, _ = face_in_photo(200, 200, angle=0, side=160, centre=(100, 100))
    a = al.alignment_for(lm, 32, photo.size)
    hole = np.zeros((200, 200), bool)
    hole[60:140, 60:140] = True
    white = Image.new("RGB", (32, 32), (255, 255, 255))
    out = np.asarray(al.paste_back(photo, hole, white, a, feather=4)[0])[..., 0].astype(int)
    assert out[100, 100] == 255  # deep inside: the result
    assert out[100, 60] == round(255 * 1 / 5)  # first hole pixel: alpha = d / (feather + 1) = 1/5
    assert out[100, 59] == 0 and out[59, 100] == 0  # outside: untouched
    hard = np.asarray(al.paste_back(photo, hole, white, a, feather=0)[0])[..., 0]
    assert hard[100, 60] == 255 and hard[100, 59] == 0


def test_hole_outside_the_square_is_left_unchanged_and_counted():
    photo = smooth_photo(300, 240)
    lm, _ = face_in_photo(side=60.0, centre=(200, 120))
    a = al.alignment_for(lm, 32, photo.size)
    hole = np.zeros((240, 300), bool)
    hole[5:25, 5:25] = True  # far from the face
    hole[110:130, 190:210] = True  # on the face
    out, info = al.paste_back(photo, hole, Image.new("RGB", (32, 32), (255, 0, 0)), a)
    assert info.unfilled == 400 and info.filled == 400
    assert np.array_equal(np.asarray(out)[5:25, 5:25], np.asarray(photo)[5:25, 5:25])


def test_mask_warp_is_conservative():
    lm, _ = face_in_photo(side=150.0)
    a = al.alignment_for(lm, 32, (300, 240))
    hole = np.zeros((240, 300), bool)
    pts = [(150, 100), (171, 93), (190, 130)]
    for x, y in pts:
        hole[y, x] = True
    crop_hole = al.warp_mask_to_crop(hole, a)
    for x, y in pts:  # the square pixel under each photo hole pixel is a hole
        u, v = apply(a.matrix, np.array([[x + 0.5, y + 0.5]]))[0]
        assert crop_hole[int(v), int(u)]
    assert crop_hole.sum() <= 4 * len(pts)


def test_big_photos_are_box_averaged_not_aliased():
    yy, xx = np.mgrid[0:1200, 0:1600]
    checker = Image.fromarray((((xx + yy) % 2) * 255).astype(np.uint8)).convert("RGB")
    lm, _ = face_in_photo(1600, 1200, angle=10, side=1000, centre=(800, 600))
    a = al.alignment_for(lm, 64, checker.size)
    crop = np.asarray(al.warp_to_crop(checker, a)).astype(float)
    assert abs(crop.mean() - 127.5) < 8 and crop.std() < 20  # an aliased warp gives ~0/255 speckle


def test_outside_the_photo_is_mirrored_not_black():
    photo = Image.new("RGB", (100, 100), (200, 180, 160))
    lm, _ = face_in_photo(100, 100, angle=0, side=120, centre=(10, 10))  # square mostly outside the photo
    crop = np.asarray(al.warp_to_crop(photo, al.alignment_for(lm, 32, photo.size)))
    assert np.abs(crop.astype(int) - (200, 180, 160)).max() <= 1


def test_size_mismatches_are_refused():
    lm, _ = face_in_photo()
    a = al.alignment_for(lm, 32, (300, 240))
    with pytest.raises(ValueError):
        al.warp_to_crop(Image.new("RGB", (100, 100)), a)
    with pytest.raises(ValueError):
        al.paste_back(Image.new("RGB", (300, 240)), np.zeros((240, 300), bool), Image.new("RGB", (16, 16)), a)
    with pytest.raises(ValueError):
        al.alignment_for(lm, 32, (300, 240), scale=0)


# ----------------------------------------------------------------------------------------------- detection
def test_detector_finds_the_drawn_face_near_the_template(detector):
    photo = mx.aligned_photo(mx.PHOTO, 256)
    faces = al.detect_faces(photo, detector)
    assert len(faces) == 1 and faces[0].score > 0.6
    assert np.abs(faces[0].landmarks - al.TEMPLATE * 256).max() < 0.08 * 256


def test_detector_sorts_faces_and_reports_none(detector):
    scene = mx.place(mx.backdrop(480, 300, (170, 160, 150), 0), mx.PHOTO, (140, 150), 200, 0)
    scene = mx.place(scene, mx.EXEMPLARS["exemplar_beard"], (380, 160), 120, 0)
    faces = detector(scene)
    assert len(faces) == 2 and faces[0].area > faces[1].area and faces[0].box[0] < faces[1].box[0]
    assert detector(Image.new("RGB", (200, 150), (120, 140, 160))) == []
    preview = al.draw_faces(scene, faces, 1)
    assert preview.size == scene.size


def test_tilted_face_is_straightened(detector):
    scene = mx.place(mx.backdrop(480, 360, (120, 150, 140), 0), mx.PHOTO, (300, 170), 220, 12)
    faces = detector(scene)
    a = al.alignment_for(faces[0].landmarks, 64, scene.size)
    assert -20 < a.angle < -4  # PIL rotates counter-clockwise on screen: the square's x axis points up-right
    assert 2.5 < a.zoom < 4.5


# ----------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def tiny():
    return make_tiny()


def test_inpaint_photo_pastes_back_and_keeps_known_pixels(tiny, detector):
    scene = mx.place(mx.backdrop(480, 360, (120, 150, 140), 0), mx.PHOTO, (300, 170), 220, 12)
    hole = np.asarray(mx.eyes_mask(220, scene.size, (190, 60), 12)) > 0
    ex = mx.aligned_photo(mx.EXEMPLARS["exemplar_glasses"], 64)
    res = al.inpaint_photo(tiny, scene, hole, ex, n_samples=3, seed=1)
    p = np.asarray(scene)
    assert len(res.images) == 3 and res.crop.size == (32, 32) and res.alignment is not None
    for out in res.images:
        o = np.asarray(out)
        assert o.shape == p.shape
        assert np.array_equal(o[~hole], p[~hole])
        assert (o[hole] != p[hole]).any(axis=-1).mean() > 0.5
    again = al.inpaint_photo(tiny, scene, hole, ex, n_samples=3, seed=1)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(res.images, again.images))


def test_inpaint_photo_without_a_detector_when_faces_are_given(tiny):
    photo = smooth_photo(300, 240)
    lm, _ = face_in_photo(side=120.0)
    hole = np.zeros((240, 300), bool)
    hole[90:130, 150:190] = True
    face = al.DetectedFace((110, 50, 120, 120), lm, 0.9)
    ex = smooth_photo(40, 40)
    res = al.inpaint_photo(tiny, photo, hole, [ex, ex], faces=[face], align_exemplars=False, n_samples=1, seed=0)
    assert len(res.images) == 2 and np.array_equal(np.asarray(res.images[0])[~hole], np.asarray(photo)[~hole])
    strip = al.inpaint_photo(tiny, photo, hole, [ex, ex.rotate(90)], faces=[face], align_exemplars=False,
                             sweep=True, seed=0)
    assert len(strip.images) == len(tiny.resolve_phi(None)) + 1
    with pytest.raises(al.NoFaceError):
        al.inpaint_photo(tiny, photo, hole, ex, faces=[], align_exemplars=False)
    with pytest.raises(ValueError, match="face 3"):
        al.inpaint_photo(tiny, photo, hole, ex, faces=[face], face=2, align_exemplars=False)


def test_align_exemplar_falls_back_to_the_centre_square():
    flat = Image.new("RGB", (90, 60), (10, 200, 30))
    crop, face = al.align_exemplar(flat, 32, detector=lambda img: [])
    assert face is None and crop.size == (32, 32)


def test_real_photo_is_detected_aligned_and_pasted_back(tiny, detector):
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the public-domain test photo")
    photo = data.astronaut()  # NASA portrait, 512x512, face off-centre
    faces = detector(Image.fromarray(photo))
    assert len(faces) == 1 and faces[0].score > 0.8
    a = al.alignment_for(faces[0].landmarks, 256, (512, 512))
    crop = al.warp_to_crop(photo, a)
    again = detector(crop)  # in the crop, the landmarks land on the template
    assert len(again) == 1 and np.abs(again[0].landmarks - al.TEMPLATE * 256).max() < 0.05 * 256
    x, y, w, h = (int(v) for v in faces[0].box)
    hole = np.zeros((512, 512), bool)
    hole[y + h // 5:y + h // 2, x:x + w] = True  # the eyes
    res = al.inpaint_photo(tiny, photo, hole, photo, n_samples=1, seed=0)
    out = np.asarray(res.images[0])
    assert np.array_equal(out[~hole], photo[~hole]) and (out[hole] != photo[hole]).any(axis=-1).mean() > 0.5


def test_the_mask_chooses_the_face_and_a_mask_on_no_face_is_refused(tiny, detector):
    scene = mx.place(mx.backdrop(480, 300, (170, 160, 150), 0), mx.PHOTO, (140, 150), 200, 0)
    scene = mx.place(scene, mx.EXEMPLARS["exemplar_beard"], (380, 160), 120, 0)
    faces = detector(scene)
    assert len(faces) == 2  # face 1 (index 0) is the larger, on the left

    def box_hole(face, top=0.3, bottom=0.6):
        x, y, w, h = (int(v) for v in face.box)
        hole = np.zeros((300, 480), bool)
        hole[y + int(h * top):y + int(h * bottom), x + w // 6:x + w - w // 6] = True
        return hole

    photo, ex = np.asarray(scene), mx.aligned_photo(mx.EXEMPLARS["exemplar_glasses"], 64)
    second = box_hole(faces[1])
    res = al.inpaint_photo(tiny, scene, second, ex, faces=faces, n_samples=1, seed=0)  # nothing chosen
    out = np.asarray(res.images[0])
    assert res.filled_faces == [1] and res.face == 1  # the face under the mask, not the largest
    assert np.array_equal(out[~second], photo[~second]) and (out[second] != photo[second]).any(-1).mean() > 0.5
    with pytest.raises(al.MaskMissesFaceError, match="does not cover face 1 .it covers face 2."):
        al.inpaint_photo(tiny, scene, second, ex, faces=faces, face=0, n_samples=1, seed=0)
    corner = np.zeros((300, 480), bool)
    corner[:20, 230:260] = True  # the backdrop between the faces' squares
    with pytest.raises(al.MaskMissesFaceError, match="covers none of the 2 detected face"):
        al.inpaint_photo(tiny, scene, corner, ex, faces=faces, n_samples=1, seed=0)
    both = box_hole(faces[0]) | second
    res = al.inpaint_photo(tiny, scene, both, ex, faces=faces, n_samples=1, seed=0)
    out = np.asarray(res.images[0])
    assert sorted(res.filled_faces) == [0, 1] and np.array_equal(out[~both], photo[~both])
    for hole in (box_hole(faces[0]), second):  # each face's part of the mask was filled
        assert (out[hole] != photo[hole]).any(-1).mean() > 0.5
