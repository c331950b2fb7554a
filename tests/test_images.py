"""Tests of exegan.images: every source type and PIL mode, EXIF, fitting geometry, tensor round-trips, mask rules and
the ValueErrors for bad inputs. Expected values are derived from the documented conventions, not from the code."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from exegan import images as I


def _encode(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _arr(im: Image.Image) -> np.ndarray:
    assert im.mode == "RGB"
    return np.asarray(im).astype(np.int64)


def _gray(values) -> np.ndarray:
    """Expected RGB array for a row of gray levels."""
    v = np.asarray(values, dtype=np.int64)[None, :]
    return np.stack([v, v, v], axis=-1)


def _over_white(v: float, a: float) -> float:
    return (v * a + 255 * (255 - a)) / 255


# ------------------------------------------------------------------------------------------------ modes
def test_mode_1_and_L_and_RGB_are_exact():
    one = Image.new("1", (2, 1))
    one.putpixel((1, 0), 1)
    assert (_arr(I.load_image(one)) == _gray([0, 255])).all()
    lum = Image.fromarray(np.array([[0, 77, 255]], np.uint8))
    assert (_arr(I.load_image(lum)) == _gray([0, 77, 255])).all()
    rgb = np.array([[[1, 2, 3], [250, 100, 0]]], np.uint8)
    assert (_arr(I.load_image(Image.fromarray(rgb))) == rgb).all()


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_is_composited_over_white(mode):
    # value 100 at alpha 0 / 128 / 255: transparent -> white background, opaque -> the value itself
    px = np.array([[[100, 0], [100, 128], [100, 255]]], np.uint8)
    im = Image.fromarray(px[..., [0, 0, 0, 1]]) if mode == "RGBA" else Image.frombytes("LA", (3, 1), px.tobytes())
    assert im.mode == mode
    out = _arr(I.load_image(im))
    assert (out[0, 0] == 255).all() and (out[0, 2] == 100).all()
    assert np.abs(out[0, 1] - _over_white(100, 128)).max() <= 1
    black = _arr(I.load_image(im, background=(0, 0, 0)))
    assert (black[0, 0] == 0).all()


def test_palette_with_and_without_transparency():
    im = Image.new("P", (3, 1))
    im.putpalette([10, 20, 30, 200, 100, 50, 0, 255, 0] + [0] * (253 * 3))
    im.putdata([0, 1, 2])
    expected = np.array([[[10, 20, 30], [200, 100, 50], [0, 255, 0]]])
    assert (_arr(I.load_image(im)) == expected).all()
    im.info["transparency"] = 1  # palette index 1 transparent -> white
    expected[0, 1] = 255
    assert (_arr(I.load_image(im)) == expected).all()
    # and through a real file, where PIL stores the transparency in the tRNS chunk
    assert (_arr(I.load_image(_encode(im))) == expected).all()


def test_cmyk_matches_pil_and_the_naive_formula():
    c, m, y, k = 10, 200, 30, 40
    im = Image.new("CMYK", (1, 1), (c, m, y, k))
    out = _arr(I.load_image(im))[0, 0]
    assert (out == np.asarray(im.convert("RGB"))[0, 0]).all()
    formula = [(255 - v) * (255 - k) / 255 for v in (c, m, y)]
    assert np.abs(out - formula).max() <= 1


def _gradient16() -> np.ndarray:
    return (np.arange(256, dtype=np.uint16) * 257)[None, :]  # 0, 257, ..., 65535: v / 257 = 0..255 exactly


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I", "png"])
def test_16bit_gradient_spans_full_8bit_range(mode):
    g = _gradient16()
    if mode == "I;16B":
        src = Image.frombytes("I;16B", (256, 1), g.astype(">u2").tobytes())
    elif mode == "I":
        src = Image.fromarray(g.astype(np.int32).astype(np.uint16)).convert("I")
    else:
        src = Image.fromarray(g)
        src = _encode(src) if mode == "png" else src
    if isinstance(src, Image.Image):
        assert src.mode == mode and np.asarray(src).max() == 65535
    out = _arr(I.load_image(src))
    assert (out == _gray(np.arange(256))).all()  # not clipped at 255 (which PIL's own convert("L") does)


def test_16bit_rounds_and_rejects_out_of_range_I():
    src = Image.fromarray(np.array([[128, 129, 1000, 65406, 65407]], np.uint16))
    # v / 257: 0.498, 0.502, 3.89, 254.498, 254.502 -> nearest integer
    assert (_arr(I.load_image(src)) == _gray([0, 1, 4, 254, 255])).all()
    neg = Image.fromarray(np.array([[-5, 10]], np.int32))
    assert neg.mode == "I"
    with pytest.raises(ValueError, match="0..65535"):
        I.load_image(neg)


def test_float_F_mode_is_unit_range():
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert f.mode == "F"
    assert (_arr(I.load_image(f)) == _gray([0, 128, 255])).all()  # 0.5 * 255 = 127.5 rounds half up
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        I.load_image(Image.fromarray(np.array([[0.0, 200.0]], np.float32)))


# ------------------------------------------------------------------------------------------------ array sources
def test_numpy_sources():
    g = np.array([[0, 128, 255]], np.uint8)
    for a in (g, g[..., None]):
        assert (_arr(I.load_image(a)) == _gray([0, 128, 255])).all()
    rgb = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)
    assert (_arr(I.load_image(rgb)) == rgb).all()
    rgba = np.concatenate([rgb, np.array([[[255], [0]]], np.uint8)], axis=-1)
    assert (_arr(I.load_image(rgba)) == np.array([[[1, 2, 3], [255, 255, 255]]])).all()
    assert (_arr(I.load_image(np.array([[True, False]]))) == _gray([255, 0])).all()
    assert (_arr(I.load_image(_gradient16()[0, None, ::51])) == _gray([0, 51, 102, 153, 204, 255])).all()
    assert (_arr(I.load_image(np.array([[0.0, 0.25, 1.0]]))) == _gray([0, 64, 255])).all()  # 63.75 -> 64


def test_numpy_bad_arrays():
    with pytest.raises(ValueError, match="channel-last"):
        I.load_image(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="HxWx3"):
        I.load_image(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        I.load_image(np.array([[0.0, 1.5]]))
    with pytest.raises(ValueError, match="NaN"):
        I.load_image(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="dtype"):
        I.load_image(np.zeros((2, 2), np.int64))


def test_torch_sources():
    t = torch.tensor([[[-1.0, 0.0, 1.0]]])  # [1,1,3]
    assert (_arr(I.load_image(t)) == _gray([0, 128, 255])).all()
    assert (_arr(I.load_image(t[0])) == _gray([0, 128, 255])).all()  # [H,W]
    assert (_arr(I.load_image(t.expand(3, 1, 3)[None])) == _gray([0, 128, 255])).all()  # [1,3,H,W]
    u8 = torch.tensor([[[1, 2]], [[3, 4]], [[5, 6]]], dtype=torch.uint8)  # [3,1,2] torchvision layout
    assert (_arr(I.load_image(u8)) == np.array([[[1, 3, 5], [2, 4, 6]]])).all()
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        I.load_image(torch.tensor([[0.0, 1.01]]))
    with pytest.raises(ValueError, match="NaN"):
        I.load_image(torch.full((3, 2, 2), float("nan")))
    with pytest.raises(ValueError, match=r"\[3,H,W\]"):
        I.load_image(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="dtype"):
        I.load_image(torch.zeros(3, 4, 4, dtype=torch.int64))


# ------------------------------------------------------------------------------------------------ EXIF
def _exif(orientation: int) -> Image.Exif:
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex


def test_exif_orientation_png_exact():
    a = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40  # 2 rows x 3 cols, all distinct
    data = _encode(Image.fromarray(a), "PNG", exif=_exif(6))
    # Orientation 6: stored rows are the displayed right-hand column -> display = rotate 90 degrees clockwise
    expected = np.rot90(a, k=-1)
    assert expected.shape == (3, 2)
    out = _arr(I.load_image(data))
    assert (out == _gray(expected.ravel()).reshape(3, 2, 3)).all()
    assert np.asarray(I.load_mask(data)).shape == (3, 2)  # masks get the same transpose


def test_exif_orientation_jpeg_blocky(tmp_path):
    a = np.zeros((16, 32), np.uint8)
    a[:, :16] = 255  # left half white, right half black
    path = tmp_path / "photo.jpg"
    Image.fromarray(a).save(path, "JPEG", exif=_exif(6), quality=95)
    out = _arr(I.load_image(path))[..., 0]
    expected = np.rot90(a, k=-1).astype(np.int64)  # 32 rows x 16 cols: white on top
    assert out.shape == expected.shape == (32, 16)
    assert np.abs(out - expected).mean() < 8 and out[:16].mean() > 200 and out[16:].mean() < 50


# ------------------------------------------------------------------------------------------------ geometry
def _stripes(w: int, h: int) -> Image.Image:
    a = np.zeros((h, w, 3), np.uint8)
    a[:, :] = (0, 0, 255)
    a[:, : w // 4] = (255, 0, 0)
    a[:, w - w // 4:] = (255, 0, 0)
    return Image.fromarray(a)


def test_fit_crop_pad_stretch_geometry():
    img = _stripes(40, 20)  # outer quarters red, centre half blue
    out, fit = I.fit_square(img, 20, "crop")  # no resampling needed: the crop is exact
    assert fit.box == (10, 0, 30, 20) and fit.dest == (0, 0, 20, 20) and out.size == (20, 20)
    assert (_arr(out) == (0, 0, 255)).all()
    out, fit = I.fit_square(img, 20, "pad")  # 40x20 -> 20x10 letterboxed at rows 5..14
    assert fit.box == (0, 0, 40, 20) and fit.dest == (0, 5, 20, 15)
    a = _arr(out)
    assert (a[:5] == 0).all() and (a[15:] == 0).all() and (a[5:15, 10] == (0, 0, 255)).all()
    assert (a[5:15, 0] == (255, 0, 0)).all()
    out, fit = I.fit_square(img, 20, "stretch")
    assert fit.dest == (0, 0, 20, 20) and (_arr(out)[:, 0] == (255, 0, 0)).all()
    assert I.plan_fit((41, 20), 20, "crop").box == (10, 0, 30, 20)  # odd leftover to the right
    assert I.plan_fit((20, 41), 64, "crop").box == (0, 10, 20, 30)
    with pytest.raises(ValueError, match="crop"):
        I.plan_fit((4, 4), 4, "zoom")


@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
def test_image_and_mask_stay_aligned(mode):
    # 60x30 -> 10x10. A white block x 24..36, y 12..18 whose edges fall on output pixel boundaries in every mode:
    # crop (box x 15..45, scale 1/3) -> x 3..7, y 4..6; pad (scale 1/6, rows 2..7) -> x 4..6, y 4..5;
    # stretch (1/6 in x, 1/3 in y) -> x 4..6, y 4..6. The fitted mask must coincide with the bright image pixels.
    w, h, size = 60, 30, 10
    a = np.zeros((h, w), np.uint8)
    a[12:18, 24:36] = 255
    img, mask = Image.fromarray(a).convert("RGB"), I.load_mask(a.astype(bool))
    out, fit = I.fit_square(img, size, mode)
    m, fit_m = I.fit_square_mask(mask, size, mode)
    assert fit == fit_m and set(np.unique(np.asarray(m))) <= {0, 255}
    hole = np.asarray(m) == 255
    expected = {"crop": (3, 7, 4, 6), "pad": (4, 6, 4, 5), "stretch": (4, 6, 4, 6)}[mode]
    ys, xs = np.nonzero(hole)
    x0, x1, y0, y1 = expected
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == expected and hole.sum() == (x1 - x0) * (y1 - y0)
    assert (hole == (_arr(out)[..., 0] >= 128)).all()


def test_paste_back_restores_original_geometry():
    img = _stripes(40, 20)
    out, fit = I.fit_square(img, 20, "crop")
    assert (_arr(I.paste_back(img, out, fit)) == _arr(img)).all()
    green = Image.new("RGB", (20, 20), (0, 255, 0))
    back = _arr(I.paste_back(img, green, fit))
    assert (back[:, 10:30] == (0, 255, 0)).all() and (back[:, :10] == (255, 0, 0)).all()
    with pytest.raises(ValueError, match="do not match"):
        I.paste_back(img, green.resize((8, 8)), fit)


# ------------------------------------------------------------------------------------------------ tensors
def test_uint8_roundtrip_is_bit_exact():
    v = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.stack([v, v[::-1], v.T], axis=-1)
    t = I.image_to_tensor(Image.fromarray(rgb))
    assert t.dtype == torch.float32 and t.shape == (3, 16, 16)
    ref = torch.from_numpy(rgb.astype(np.float64) / 127.5 - 1).permute(2, 0, 1)
    assert (t.double() - ref).abs().max() < 1e-6
    assert t.min() == -1 and t.max() == 1
    assert (np.asarray(I.tensor_to_image(t)) == rgb).all()
    assert (np.asarray(I.tensor_to_image(t[None])) == rgb).all()  # batch of 1


def test_tensor_to_image_clamps_rounds_and_validates():
    t = torch.tensor([[[-3.0, -1.0, 0.0, 1.0, 1.5]]])
    assert (_arr(I.tensor_to_image(t)) == _gray([0, 0, 128, 255, 255])).all()  # 127.5 -> 128 (half up)
    with pytest.raises(ValueError, match="NaN"):
        I.tensor_to_image(torch.tensor([[[0.0, float("inf")]]]))
    with pytest.raises(ValueError, match="float tensor"):
        I.tensor_to_image(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="float tensor"):
        I.tensor_to_image(torch.zeros(3, 4, 4, dtype=torch.uint8))


# ------------------------------------------------------------------------------------------------ masks
def _hole(src, **kw) -> np.ndarray:
    m = np.asarray(I.load_mask(src, **kw))
    assert set(np.unique(m)) <= {0, 255}
    return m == 255


def test_mask_white_is_hole_and_threshold_edge():
    im = Image.fromarray(np.array([[0, 127, 128, 199, 200, 255]], np.uint8))
    assert _hole(im).tolist() == [[False, False, True, True, True, True]]
    assert _hole(im, threshold=200).tolist() == [[False, False, False, False, True, True]]
    with pytest.raises(ValueError, match="threshold"):
        I.load_mask(im, threshold=0)


def test_mask_rgb_picture_uses_luminance():
    # luma = .299 R + .587 G + .114 B: red 76 (< 128, known), green 150 (hole), white 255, black 0
    px = np.array([[[255, 0, 0], [0, 255, 0], [255, 255, 255], [0, 0, 0]]], np.uint8)
    expected = [[False, True, True, False]]
    assert _hole(Image.fromarray(px)).tolist() == expected
    assert _hole(px).tolist() == expected  # numpy HxWx3 is a picture too
    assert _hole(_encode(Image.fromarray(px))).tolist() == expected


def test_mask_alpha_layer():
    # drawn layer on a transparent canvas: the colour does not matter, any alpha > 0 is hole
    a = np.zeros((1, 4, 4), np.uint8)
    a[0, 1, 3], a[0, 2, 3], a[0, 3] = 255, 10, (255, 255, 255, 255)  # black stroke, faint stroke, white stroke
    assert _hole(Image.fromarray(a)).tolist() == [[False, True, True, True]]
    la = Image.frombytes("LA", (2, 1), bytes([0, 0, 0, 200]))
    assert _hole(la).tolist() == [[False, True]]
    assert _hole(np.array([[[0, 0, 0, 0], [0, 0, 0, 200]]], np.uint8)).tolist() == [[False, True]]
    opaque = a.copy()
    opaque[..., 3] = 255  # fully opaque RGBA: luminance rules again
    assert _hole(Image.fromarray(opaque)).tolist() == [[False, False, False, True]]
    p = Image.new("P", (2, 1))
    p.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)
    p.putdata([0, 1])
    p.info["transparency"] = 0  # palette picture with a transparent canvas: index 1 (black, opaque) is hole
    assert _hole(p).tolist() == [[False, True]]


def test_mask_arrays_and_tensors_as_is():
    b = np.array([[True, False], [False, True]])
    assert (_hole(b) == b).all()
    assert (_hole(b.astype(np.int64)) == b).all()  # 0/1 ints: 1 = hole (not "dark, so known")
    assert (_hole(b.astype(np.uint8)[None]) == b).all()  # 1xHxW
    assert (_hole(b.astype(np.float32)[..., None]) == b).all()  # HxWx1
    assert (_hole(torch.from_numpy(b)[None, None]) == b).all()  # [1,1,H,W] bool tensor
    assert (_hole(torch.from_numpy(b).float()[None]) == b).all()
    assert _hole(np.array([[0.4, 0.5]])).tolist() == [[False, True]]  # soft: 102 < 128 <= 128
    assert _hole(np.array([[0, 100, 128]], np.uint8)).tolist() == [[False, False, True]]
    # a *picture* with values 0/1 is black: no hole (pictures never use the 0/1 rule)
    assert not _hole(Image.fromarray(b.astype(np.uint8))).any()


def test_mask_tensor_full_empty_and_idempotent():
    full = I.mask_to_tensor(Image.new("L", (5, 3), 255))
    assert full.dtype == torch.float32 and full.shape == (1, 3, 5) and (full == 1).all()
    empty = I.mask_to_tensor(np.zeros((3, 5), bool))
    assert empty.shape == (1, 3, 5) and (empty == 0).all()
    rnd = np.random.default_rng(0).integers(0, 256, (6, 7)).astype(np.uint8)
    once = I.load_mask(rnd)
    assert (np.asarray(I.load_mask(once)) == np.asarray(once)).all()
    assert (I.mask_to_tensor(once)[0].numpy() == (rnd >= 128)).all()


def test_mask_bad_shapes_and_values():
    with pytest.raises(ValueError, match="2-D"):
        I.load_mask(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="2-D"):
        I.load_mask(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        I.load_mask(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        I.load_mask(torch.tensor([[0.0, 2.0]]))


# ------------------------------------------------------------------------------------------------ bad files
def _noise_png() -> bytes:
    return _encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3)).astype(np.uint8)))


def test_sources_path_bytes_filelike(tmp_path):
    data = _noise_png()
    ref = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    (tmp_path / "x.png").write_bytes(data)
    for src in (data, bytearray(data), io.BytesIO(data), tmp_path / "x.png", str(tmp_path / "x.png")):
        assert (np.asarray(I.load_image(src)) == ref).all()
    with pytest.raises(TypeError):
        I.load_image(42)


@pytest.mark.parametrize("fn", [I.load_image, I.load_mask])
def test_bad_files_give_clear_value_errors(tmp_path, fn):
    png = _noise_png()
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fn(png[: len(png) * 6 // 10])
    jpg = _encode(Image.open(io.BytesIO(png)), "JPEG")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fn(jpg[: len(jpg) // 2])
    (tmp_path / "notes.png").write_text("this is not an image\n")
    with pytest.raises(ValueError, match="not a recognised image"):
        fn(tmp_path / "notes.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        fn(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="binary mode"):
        fn(io.StringIO("text"))


@pytest.mark.parametrize("fn", [I.load_image, I.load_mask])
def test_only_regular_files_of_the_supported_formats_are_decoded(tmp_path, monkeypatch, fn):
    os.mkfifo(tmp_path / "pipe.png")  # opening it for reading would block forever without the check
    os.symlink("/dev/zero", tmp_path / "zero.png")  # reading it whole would never end
    for name in ("pipe.png", "zero.png"):
        with pytest.raises(ValueError, match="not a regular file"):
            fn(tmp_path / name)
    img = Image.new("RGB", (8, 8), (10, 20, 30))
    for fmt in ("PCX", "TGA", "PPM"):  # formats Pillow decodes, but not ones the project supports
        with pytest.raises(ValueError, match="not a recognised image"):
            fn(_encode(img, fmt))
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"):
        assert fn(_encode(img.convert("P") if fmt == "GIF" else img, fmt)).size == (8, 8)
    monkeypatch.setattr(I, "MAX_FILE_BYTES", 100)
    with pytest.raises(ValueError, match="larger than"):
        fn(_noise_png())


@pytest.mark.parametrize("fn", [I.load_image, I.load_mask])
def test_too_large_images_are_refused(monkeypatch, fn):
    png = _encode(Image.new("RGB", (4, 4)))
    fn(png, max_pixels=16)  # at the limit: fine
    with pytest.raises(ValueError, match="too large"):
        fn(png, max_pixels=15)
    with pytest.raises(ValueError, match="too large"):
        fn(np.zeros((4, 4), np.uint8), max_pixels=15)
    monkeypatch.setattr(I, "MAX_PIXELS", 15)  # the module default applies when max_pixels is None
    with pytest.raises(ValueError, match="too large"):
        fn(Image.new("RGB", (4, 4)))
    # PIL's own guard: a warning above MAX_IMAGE_PIXELS is silenced, its error becomes a ValueError
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(_encode(Image.new("RGB", (4, 3))), max_pixels=100)
    with pytest.raises(ValueError, match="too large"):
        fn(_encode(Image.new("RGB", (5, 5))), max_pixels=100)
