"""Confidence weight mask M_w and reverse mask M̄_w (paper §III.D, Eq. 11-12; docs/official-implementation.md §5.6,
§10.3 item 13).

Mask convention: float tensor, 1 = hole (missing), 0 = known. All outputs have shape [B,1,H,W].

``M_w`` is 0 outside the hole and decreases from the hole border towards its centre; it weights the gradient
of the LPIPS loss (through :func:`exegan.svgl.svgl`). ``M̄_w = (1 - M_w) ⊙ M`` does the opposite and weights
the attribute loss.

Kernels. ``kind="official"`` is the GMCNN-style kernel the released training code uses (size 65, σ = 1/40 in
the CDF parametrisation of :func:`gauss_kernel`); it is numerically a 65×65 box filter. ``kind="gaussian"``
is the paper's wording ("64×64, standard deviation 40"): a true sampled Gaussian of std 40 px, but on an odd
65×65 support so that it is centred on the pixel (an even 64-tap kernel would shift the mask by half a pixel).
Both kernels are separable (official: sqrt(outer(k, k)) = outer(sqrt k, sqrt k)), so the blur runs as a row
pass and a column pass on the reflection-padded image, which equals the dense 2-D convolution.

Kernel size (``size=None``, the default). Images with min(H, W) >= 256 use exactly the official 65 (the
official code uses 65 at both 256 and 512). Smaller images, e.g. those of tiny CPU training runs, use the
kernel scaled with the image, the odd size nearest to ``65 * min(H, W) / 256`` (rounding up to odd: 33 at
128, 17 at 64, 9 at 32), so that M_w keeps the shape it has at 256; with 65 on a 64-px image the near-box
filter averages almost the whole image and M_w is ≈ 1 everywhere in the hole. For ``kind="gaussian"`` without
an explicit ``sigma`` the std is scaled the same way (40 px at >= 256, 10 px at 64).
An explicit ``size`` is used as given, except that reflection padding by ``size // 2`` needs
``size // 2 < min(H, W)``: beyond that limit (e.g. 65 on a 32×32 image) the kernel is shrunk to the largest
legal odd size ``2 * min(H, W) - 1`` (63 at 32 px).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["gauss_kernel", "blur", "confidence_mask", "reverse_confidence_mask"]

OFFICIAL_SIZE = 65
OFFICIAL_SIGMA = 1.0 / 40.0  # GMCNN CDF parametrisation (unitless)
PAPER_STD = 40.0  # pixels, at 256x256
REFERENCE_SIDE = 256


def _cdf_diffs(size: int, sigma: float) -> list[float]:
    """Official 1-D kernel: differences of the standard normal CDF at ``size + 1`` points (not normalised)."""
    interval = (2.0 * sigma + 1.0) / size
    lo, hi = -sigma - interval / 2.0, sigma + interval / 2.0
    pts = [lo + (hi - lo) * i / size for i in range(size + 1)]
    cdf = [0.5 * (1.0 + math.erf(p / math.sqrt(2.0))) for p in pts]
    return [b - a for a, b in zip(cdf[:-1], cdf[1:])]


@lru_cache(maxsize=None)
def _gauss_kernel_cached(size: int, sigma: float) -> torch.Tensor:
    k1 = torch.tensor(_cdf_diffs(size, sigma), dtype=torch.float64)
    k2 = torch.sqrt(torch.outer(k1, k1))
    return k2 / k2.sum()


def gauss_kernel(size: int = OFFICIAL_SIZE, sigma: float = OFFICIAL_SIGMA) -> torch.Tensor:
    """The official 2-D kernel, float64 [size, size], summing to 1 (built as docs/official-implementation.md §5.6
    describes)."""
    return _gauss_kernel_cached(int(size), float(sigma)).clone()


@lru_cache(maxsize=None)
def _kernel_1d(size: int, sigma: float, kind: str) -> torch.Tensor:
    """1-D factor k of the 2-D kernel (outer(k, k) == 2-D kernel), float64 [size], summing to 1."""
    if kind == "official":
        k = torch.sqrt(torch.tensor(_cdf_diffs(size, sigma), dtype=torch.float64))
    elif kind == "gaussian":
        x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
        k = torch.exp(-x * x / (2.0 * sigma * sigma))
    else:
        raise ValueError(f"unknown kind {kind!r} (expected 'official' or 'gaussian')")
    return k / k.sum()


def _resolve(size: int | None, sigma: float | None, kind: str, h: int, w: int) -> tuple[int, float]:
    """Kernel size and sigma actually used for an H×W image (see the module docstring)."""
    side = min(h, w)
    if size is None:
        scale = min(side, REFERENCE_SIDE) / REFERENCE_SIDE
        size = max(1, round(OFFICIAL_SIZE * scale))
        size += 1 - size % 2  # odd, rounding up
        if sigma is None and kind == "gaussian":
            sigma = PAPER_STD * scale
    size = int(size)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {size}")
    size = min(size, 2 * side - 1)  # reflection pad limit: size // 2 <= side - 1
    if sigma is None:
        sigma = OFFICIAL_SIGMA if kind == "official" else PAPER_STD
    return size, float(sigma)


def blur(x: torch.Tensor, size: int | None = None, sigma: float | None = None,
         kind: str = "official") -> torch.Tensor:
    """ReflectionPad2d(size // 2) + conv with the (separable) kernel, as a row then a column 1-D pass.

    x: [B,C,H,W] float; returns the same shape. ``size`` / ``sigma`` = None: defaults, see the module docstring.
    """
    size, sigma = _resolve(size, sigma, kind, x.shape[-2], x.shape[-1])
    k = _kernel_1d(size, sigma, kind).to(device=x.device, dtype=x.dtype)
    b, c, h, w = x.shape
    y = x.reshape(b * c, 1, h, w)
    p = size // 2
    if p > 0:
        y = F.pad(y, (p, p, p, p), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, size))  # rows
    y = F.conv2d(y, k.view(1, 1, size, 1))  # columns
    return y.reshape(b, c, h, w)


def _as_b1hw(mask: torch.Tensor) -> torch.Tensor:
    if mask.ndim == 2:
        mask = mask[None, None]
    elif mask.ndim == 3:
        mask = mask[:, None]
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be [H,W], [B,H,W] or [B,1,H,W], got {tuple(mask.shape)}")
    return mask


def confidence_mask(mask: torch.Tensor, iters: int = 7, size: int | None = None,
                    sigma: float | None = None, kind: str = "official") -> torch.Tensor:
    """Confidence weight mask M_w (Eq. 11, official iteration of docs/official-implementation.md §5.6).

    mask: [B,1,H,W] (or [B,H,W] / [H,W]) with 1 = hole. Returns M_w [B,1,H,W] in [0, 1], 0 outside the hole,
    same device and dtype as ``mask`` (float32 for non-float masks; half/bfloat16 are computed in float32).
    Iteration: init = 1 - M; ``iters`` times: conf = blur(init) ⊙ M; init = conf + (1 - M).
    ``size=None``: 65 for min(H, W) >= 256 (official), scaled down for smaller images (module docstring).
    ``sigma=None``: 1/40 for "official", 40 px (scaled likewise) for "gaussian".
    """
    m = _as_b1hw(mask)
    out_dtype = m.dtype if m.dtype.is_floating_point else torch.float32
    work = m.dtype if m.dtype in (torch.float32, torch.float64) else torch.float32
    m = m.to(work)
    known = 1.0 - m
    conf = torch.zeros_like(m)
    init = known
    for _ in range(iters):
        conf = blur(init, size, sigma, kind) * m
        init = conf + known
    return conf.to(out_dtype)


def reverse_confidence_mask(conf: torch.Tensor, mask: torch.Tensor, normalize: str | None = "batch") -> torch.Tensor:
    """Reverse weight mask M̄_w = (1 - M_w) ⊙ M (Eq. 12), optionally min-max normalised.

    conf: M_w [B,1,H,W]; mask: [B,1,H,W] (or [B,H,W] / [H,W]), 1 = hole. ``normalize``:
    "batch" = official (min and max over the whole batch tensor, known pixels included, so the min is 0 as
    soon as any pixel is known); "sample" = min-max per sample; None = the paper's unnormalised form.
    Where max == min (e.g. an all-zero mask) the normalised result is all zeros, never NaN.
    """
    m = _as_b1hw(mask).to(conf.dtype)
    rev = (1.0 - conf) * m
    if normalize is None:
        return rev
    if normalize == "batch":
        lo, hi = rev.amin(), rev.amax()
    elif normalize == "sample":
        lo = rev.amin(dim=(1, 2, 3), keepdim=True)
        hi = rev.amax(dim=(1, 2, 3), keepdim=True)
    else:
        raise ValueError(f"normalize must be 'batch', 'sample' or None, got {normalize!r}")
    span = hi - lo
    return (rev - lo) / torch.where(span > 0, span, torch.ones_like(span))
