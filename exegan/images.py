"""Image and mask input/output for inference: whatever a user gives -> model tensors, and back.

Conventions (those of the model):

* image tensor: float32 ``[3, S, S]`` in ``[-1, 1]`` (``x / 127.5 - 1`` of the 8-bit pixel);
* mask tensor: float32 ``[1, S, S]`` in ``{0, 1}``, **1 = hole** (to fill), 0 = known;
* user-facing mask pictures: **white = hole**, i.e. luminance ``>= threshold`` (default 128), unless the picture
  is a drawn layer on a transparent canvas (then hole = alpha > 0, see :func:`load_mask`).

Value conventions of array inputs (one per type, anything outside is a ``ValueError``, never clipped):

* numpy: channel-last ``HxW`` / ``HxWx1`` / ``HxWx3`` / ``HxWx4``; ``uint8`` 0..255, ``uint16`` 0..65535,
  ``bool`` (True = 255), float in ``[0, 1]`` (image space);
* torch: channel-first ``[H,W]`` / ``[1,H,W]`` / ``[3,H,W]`` (optionally with a batch dim of 1); float in
  ``[-1, 1]`` (model space), ``uint8`` 0..255 (torchvision's ``read_image``), ``bool``. Mask tensors are the
  exception: float masks are in ``[0, 1]`` like the model's masks.

Images are flattened to 8-bit RGB: alpha is composited over ``background`` (white by default), 16-bit data is
scaled by 255/65535 (so a full-range 16-bit gradient spans 0..255), EXIF orientation is applied, the first frame
of a multi-frame file is used. Files above ``max_pixels`` (default :data:`MAX_PIXELS`) are refused before decoding.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass
from typing import IO, Literal, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["MAX_PIXELS", "MAX_FILE_BYTES", "FORMATS", "Fit", "open_image", "load_image", "load_mask", "plan_fit", "fit_square", "fit_square_mask", "paste_back",
           "image_to_tensor", "tensor_to_image", "mask_to_tensor"]

MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 256 * 2 ** 20
"""Image files larger than this are refused before they are read (64 MP PNGs are well below it)."""
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")  # JPEG includes multi-picture (MPO) phone files
"""The decoders an image may use: the common raster formats. Others Pillow knows (EPS would start Ghostscript,
and more) are refused."""
"""Default pixel limit (decompression-bomb guard); ``max_pixels=None`` in the functions below means this value."""

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray, torch.Tensor]
FitMode = Literal["crop", "pad", "stretch"]
RGB = tuple[int, int, int]

_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


# ----------------------------------------------------------------------------------------------- decoding
def _check_pixels(w: int, h: int, max_pixels: int | None) -> None:
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    if w * h > limit:
        raise ValueError(f"image too large: {w}x{h} = {w * h} pixels exceeds the limit of {limit} pixels")


def open_image(src: ImageSource, max_pixels: int | None = None) -> Image.Image:
    """Path / bytes / file-like / PIL image -> loaded, EXIF-transposed PIL image in its own mode (alpha kept), by
    the rules of :func:`load_image`: regular files only, size- and pixel-bounded, :data:`FORMATS` decoders only.
    Raises ``ValueError`` naming the source for anything else."""
    if isinstance(src, Image.Image):
        im, name = src, "image"
    else:
        if isinstance(src, (str, os.PathLike)):
            name = os.fspath(src)
            if not stat.S_ISREG(os.stat(src).st_mode):  # a FIFO or device would block or never end
                raise ValueError(f"{name}: not a regular file")  # (a missing file stays FileNotFoundError)
            with open(src, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        elif isinstance(src, (bytes, bytearray, memoryview)):
            name, data = "image data", bytes(src)
        elif hasattr(src, "read"):
            name, data = "image stream", src.read(MAX_FILE_BYTES + 1)
            if not isinstance(data, (bytes, bytearray)):
                raise ValueError("file-like image source must be opened in binary mode")
        else:
            raise TypeError(f"unsupported image source type: {type(src).__name__}")
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: larger than {MAX_FILE_BYTES // 2 ** 20} MiB, refused")
        if len(data) == 0:
            raise ValueError(f"{name}: empty file (0 bytes)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(io.BytesIO(data), formats=FORMATS)
        except Image.DecompressionBombError as exc:
            raise ValueError(f"{name}: image too large ({exc})") from None
        except Exception as exc:  # UnidentifiedImageError and friends
            detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({type(exc).__name__}: {exc})"
            raise ValueError(f"{name}: not a recognised image file; use {', '.join(FORMATS)}{detail}") from None
    _check_pixels(*im.size, max_pixels)
    try:
        im.load()
        return ImageOps.exif_transpose(im)
    except Exception as exc:  # PIL raises OSError, SyntaxError, EOFError, struct.error, ... on corrupt data
        raise ValueError(f"{name}: could not decode image, truncated or corrupt ({type(exc).__name__}: {exc})") \
            from None


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """bool / uint8 / uint16 / float-in-[0,1] array -> uint8 of the same shape (round half up)."""
    if a.dtype.byteorder not in "=|":  # e.g. big-endian ">u2" from "I;16B"
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError("image array contains NaN or infinite values")
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"float image arrays must be in [0, 1], got range [{a.min():.4g}, {a.max():.4g}]")
        return np.floor(a.astype(np.float64) * 255 + 0.5).astype(np.uint8)
    raise ValueError(f"unsupported array dtype {a.dtype}: use uint8, uint16, bool or float in [0, 1]")


def _array_to_pil(a: np.ndarray) -> Image.Image:
    """Channel-last numpy array -> PIL "L", "RGB" or "RGBA" (alpha kept)."""
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        hint = " (numpy arrays are channel-last)" if a.ndim == 3 and a.shape[0] in (1, 3, 4) else ""
        raise ValueError(f"image array must have shape HxW, HxWx1, HxWx3 or HxWx4, got {tuple(a.shape)}{hint}")
    return Image.fromarray(np.ascontiguousarray(_to_uint8(a)))


def _wide_to_rgb(im: Image.Image) -> Image.Image:
    """16/32-bit integer ("I;16*", "I": data assumed 0..65535) or float ("F": [0, 1]) image -> 8-bit RGB."""
    a = np.asarray(im)
    if im.mode != "F":
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError(f"mode {im.mode} image values must be in 0..65535, got [{a.min()}, {a.max()}]")
        a = a.astype(np.uint16)
    return Image.fromarray(_to_uint8(a)).convert("RGB")


def _flatten(im: Image.Image, background: RGB) -> Image.Image:
    """Any-mode PIL image -> 8-bit RGB; alpha composited over ``background``."""
    if im.mode in _WIDE_MODES:
        return _wide_to_rgb(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    try:
        if im.mode in _ALPHA_MODES:
            canvas = Image.new("RGBA", im.size, tuple(background) + (255,))
            return Image.alpha_composite(canvas, im.convert("RGBA")).convert("RGB")
        return im.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ValueError(f"unsupported image mode {im.mode!r} ({exc})") from None


def _squeeze_batch(t: torch.Tensor) -> torch.Tensor:
    return t[0] if t.ndim == 4 and t.shape[0] == 1 else t


def load_image(src: ImageSource, *, max_pixels: int | None = None, background: RGB = (255, 255, 255)) -> Image.Image:
    """Any supported source -> PIL 8-bit "RGB" image of the source's (EXIF-corrected) size.

    Handles PIL modes 1, L, LA, P (with or without transparency), RGB, RGBA, CMYK (PIL's conversion),
    I;16/I;16B/I (scaled 0..65535 -> 0..255) and F ([0, 1]). Alpha is composited over ``background``.
    Raises ``ValueError`` for empty, non-image, truncated or too-large files and for arrays of bad
    shape, dtype, range or with NaN/inf; ``TypeError`` for unsupported source types.
    """
    if isinstance(src, torch.Tensor):
        t = _squeeze_batch(src.detach().cpu())
        t = t[None] if t.ndim == 2 else t
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"image tensor must have shape [3,H,W], [1,H,W] or [H,W], got {tuple(src.shape)}")
        _check_pixels(t.shape[2], t.shape[1], max_pixels)
        if t.is_floating_point():
            t = t.float()
            if not torch.isfinite(t).all():
                raise ValueError("image tensor contains NaN or infinite values")
            if t.numel() and (t.min() < -1 or t.max() > 1):
                raise ValueError(f"float image tensors must be in [-1, 1], got [{t.min():.4g}, {t.max():.4g}]")
            return tensor_to_image(t)
        if t.dtype not in (torch.uint8, torch.bool):
            raise ValueError(f"unsupported tensor dtype {t.dtype}: use float in [-1, 1], uint8 or bool")
        return _array_to_pil(t.permute(1, 2, 0).numpy()).convert("RGB")
    if isinstance(src, np.ndarray):
        im = _array_to_pil(src)
        _check_pixels(*im.size, max_pixels)
    else:
        im = open_image(src, max_pixels)
    return _flatten(im, background)


def load_mask(src: ImageSource, *, threshold: int = 128, max_pixels: int | None = None) -> Image.Image:
    """Any supported source -> PIL "L" mask with values {0, 255}; 255 (white) = hole.

    Rules, in order:

    * arrays/tensors must be 2-D after dropping one singleton channel/batch dim (``[H,W]``, ``[1,H,W]``,
      ``[1,1,H,W]``, ``HxWx1``); numpy ``HxWx3``/``HxWx4`` arrays are treated as pictures (rules below);
    * ``bool`` arrays, and numeric arrays whose values are all 0 or 1, are used as-is: True/1 = hole;
    * other arrays: converted to 8 bit by the value conventions of the module, hole = value >= threshold
      (float masks, numpy or torch, are in [0, 1]);
    * pictures (files, PIL images): if the mode has alpha and some pixel is not fully opaque, the picture is a
      drawn layer on a transparent canvas and hole = alpha > 0; otherwise hole = luminance >= ``threshold``.

    Images (unlike arrays) never use the 0/1 rule: a picture with values 0/1 is black, i.e. no hole.
    The output round-trips: ``load_mask(load_mask(x)) == load_mask(x)``.
    """
    if not 1 <= threshold <= 255:
        raise ValueError(f"threshold must be in 1..255, got {threshold}")
    if isinstance(src, (torch.Tensor, np.ndarray)):
        is_tensor = isinstance(src, torch.Tensor)
        t = _squeeze_batch(src.detach().cpu()) if is_tensor else src
        a = (t.float() if t.is_floating_point() else t).numpy() if is_tensor else t
        picture = not is_tensor and a.ndim == 3 and a.shape[-1] in (3, 4)
        if a.ndim == 3 and not picture:  # drop the channel dim: tensors channel-first, numpy channel-last first
            first, last = a.shape[0] == 1, a.shape[-1] == 1
            a = a[0] if first and (is_tensor or not last) else a[..., 0] if last else a
        if picture:
            hole = _picture_hole(_array_to_pil(a), threshold)
        elif a.ndim != 2:
            raise ValueError(f"mask must be 2-D (HxW, 1xHxW or HxWx1), got shape {tuple(src.shape)}")
        elif a.dtype == np.bool_:
            hole = a
        elif np.issubdtype(a.dtype, np.number) and np.isin(a, (0, 1)).all():
            hole = a == 1
        else:
            if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
                raise ValueError("mask contains NaN or infinite values")
            hole = _to_uint8(a) >= threshold
        _check_pixels(hole.shape[1], hole.shape[0], max_pixels)
    else:
        hole = _picture_hole(open_image(src, max_pixels), threshold)
    return Image.fromarray(hole.astype(np.uint8) * 255)


def _picture_hole(im: Image.Image, threshold: int) -> np.ndarray:
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in _ALPHA_MODES:
        alpha = np.asarray(im.convert("RGBA"))[..., 3]
        if alpha.size and alpha.min() < 255:
            return alpha > 0
    gray = im if im.mode == "L" else _flatten(im, (255, 255, 255)).convert("L")
    return np.asarray(gray) >= threshold


# ----------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Fit:
    """How :func:`fit_square` mapped a ``src_size`` (w, h) image onto a ``size`` x ``size`` square.

    ``box`` (l, t, r, b) is the region of the source that was used (the centre square for "crop", the whole
    image otherwise); ``dest`` is where it landed in the square (the letterbox interior for "pad", the whole
    square otherwise). Undo with :func:`paste_back`.
    """
    src_size: tuple[int, int]
    size: int
    mode: str
    box: tuple[int, int, int, int]
    dest: tuple[int, int, int, int]


def plan_fit(src_size: tuple[int, int], size: int, mode: FitMode = "crop") -> Fit:
    """Geometry of :func:`fit_square` for a (w, h) source, without touching pixels."""
    w, h = src_size
    if size < 1 or w < 1 or h < 1:
        raise ValueError(f"bad sizes: source {w}x{h}, target {size}")
    whole, square = (0, 0, w, h), (0, 0, size, size)
    if mode == "crop":  # centre square of side min(w, h); odd leftovers go to the right/bottom
        side = min(w, h)
        l, t = (w - side) // 2, (h - side) // 2
        return Fit((w, h), size, mode, (l, t, l + side, t + side), square)
    if mode == "pad":  # longest side -> size, aspect kept, centred
        m = max(w, h)
        nw, nh = max(1, (w * size + m // 2) // m), max(1, (h * size + m // 2) // m)
        x, y = (size - nw) // 2, (size - nh) // 2
        return Fit((w, h), size, mode, whole, (x, y, x + nw, y + nh))
    if mode == "stretch":
        return Fit((w, h), size, mode, whole, square)
    raise ValueError(f"fit mode must be 'crop', 'pad' or 'stretch', got {mode!r}")


def _apply_fit(im: Image.Image, fit: Fit, resample: int, fill: int | RGB) -> Image.Image:
    l, t, r, b = fit.box
    x0, y0, x1, y1 = fit.dest
    part = im.resize((x1 - x0, y1 - y0), resample, box=fit.box) if (r - l, b - t) != (x1 - x0, y1 - y0) \
        else im.crop(fit.box)
    if fit.dest == (0, 0, fit.size, fit.size):
        return part
    out = Image.new(im.mode, (fit.size, fit.size), fill)
    out.paste(part, (x0, y0))
    return out


def fit_square(img: Image.Image, size: int, mode: FitMode = "crop", *,
               fill: RGB = (0, 0, 0)) -> tuple[Image.Image, Fit]:
    """RGB image -> (``size`` x ``size`` image, :class:`Fit`), LANCZOS resampling.

    "crop": centre-crop to a square, then resize (nothing is distorted; the borders of the long side are lost);
    "pad": resize the long side to ``size`` and letterbox with ``fill``; "stretch": plain resize (distorts).
    """
    fit = plan_fit(img.size, size, mode)
    return _apply_fit(img, fit, Image.Resampling.LANCZOS, fill), fit


def fit_square_mask(mask: Image.Image, size: int, mode: FitMode = "crop") -> tuple[Image.Image, Fit]:
    """Mask ("L", from :func:`load_mask`) -> same geometry as :func:`fit_square`, NEAREST resampling, so it stays
    binary and aligned with the image fitted with the same ``mode``; letterbox padding is known (0), not hole."""
    fit = plan_fit(mask.size, size, mode)
    return _apply_fit(mask, fit, Image.Resampling.NEAREST, 0), fit


def paste_back(original: Image.Image, result: Image.Image, fit: Fit) -> Image.Image:
    """Map a ``size`` x ``size`` model output back onto (a copy of) the original-geometry RGB image."""
    if result.size != (fit.size, fit.size) or original.size != fit.src_size:
        raise ValueError(f"sizes do not match the fit: result {result.size}, original {original.size}, {fit}")
    l, t, r, b = fit.box
    part = result.resize((r - l, b - t), Image.Resampling.LANCZOS, box=fit.dest)
    out = original.convert("RGB")
    out.paste(part, (l, t))
    return out


# ----------------------------------------------------------------------------------------------- tensors
def is_grayscale(rgb: np.ndarray) -> bool:
    """True when an ``HxWx3`` uint8 picture has no colour (R = G = B at every pixel), e.g. a grey-scale photo
    loaded as RGB."""
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    """``HxWx3`` uint8 -> the same picture in grey (ITU-R 601 luma, as Pillow's ``convert("L")``), still 3
    channels."""
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    return np.repeat(luma[..., None], 3, axis=2)


def image_to_tensor(img: ImageSource) -> torch.Tensor:
    """RGB image (anything :func:`load_image` takes) -> float32 ``[3, H, W]`` in [-1, 1], ``x / 127.5 - 1``."""
    if not (isinstance(img, Image.Image) and img.mode == "RGB"):
        img = load_image(img)
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float() / 127.5 - 1


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """Float ``[3,H,W]`` / ``[1,H,W]`` (or with a batch dim of 1) in [-1, 1] -> PIL 8-bit RGB.

    As torchvision's ``save_image(normalize=True, value_range=(-1, 1))``: clamp to [-1, 1], then
    ``floor((x + 1) / 2 * 255 + 0.5)`` (round half up). Out-of-range values are clamped (model outputs), but
    NaN/inf raise ``ValueError``. Exact inverse of :func:`image_to_tensor` on 8-bit images.
    """
    t = _squeeze_batch(t.detach().cpu())
    if t.ndim != 3 or t.shape[0] not in (1, 3) or not t.is_floating_point():
        raise ValueError(f"expected a float tensor [3,H,W] or [1,H,W], got {t.dtype} {tuple(t.shape)}")
    t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError("image tensor contains NaN or infinite values")
    u8 = ((t.clamp(-1, 1) + 1) / 2 * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8)
    return Image.fromarray(u8.expand(3, -1, -1).permute(1, 2, 0).contiguous().numpy())


def mask_to_tensor(mask: ImageSource, *, threshold: int = 128) -> torch.Tensor:
    """Mask (anything :func:`load_mask` takes) -> float32 ``[1, H, W]`` in {0, 1}, 1 = hole."""
    m = load_mask(mask, threshold=threshold)
    return torch.from_numpy(np.asarray(m) >= 128).float()[None]
