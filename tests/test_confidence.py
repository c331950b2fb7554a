"""Confidence mask M_w and reverse mask M̄_w (paper Eq. 11-12, docs/official-implementation.md §5.6)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm

from exegan.confidence import blur, confidence_mask, gauss_kernel, reverse_confidence_mask


def _center_hole(size: int, batch: int = 1, dtype=torch.float32) -> torch.Tensor:
    m = torch.zeros(batch, 1, size, size, dtype=dtype)
    m[..., size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
    return m


@pytest.fixture(scope="module")
def conf256():
    m = _center_hole(256)
    return m, confidence_mask(m)


def test_gauss_kernel_matches_scipy_and_is_near_box():
    k = gauss_kernel()
    assert k.shape == (65, 65) and k.dtype == torch.float64
    # independent construction with scipy's normal CDF (the recipe of docs/official-implementation.md §5.6)
    size, sig = 65, 1 / 40
    interval = (2 * sig + 1) / size
    k1 = np.diff(norm.cdf(np.linspace(-sig - interval / 2, sig + interval / 2, size + 1)))
    k2 = np.sqrt(np.outer(k1, k1))
    k2 /= k2.sum()
    np.testing.assert_allclose(k.numpy(), k2, rtol=1e-12, atol=0)
    assert abs(float(k.max() / k.min()) - 1.00053) < 1e-5  # spec: max/min ratio 1.00053
    assert abs(float(k.mean()) - 1 / 4225) < 1e-9


def _dense_blur(x, k2):
    p = k2.shape[-1] // 2
    return F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), k2[None, None].to(x.dtype))


def _gauss2d(size, std):
    d = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * std ** 2))
    return g / g.sum()


@pytest.mark.parametrize("kind,size,k2", [
    ("official", 65, lambda: gauss_kernel(65, 1 / 40)),
    ("official", 9, lambda: gauss_kernel(9, 1 / 40)),
    ("gaussian", 65, lambda: _gauss2d(65, 40.0)),
])
def test_separable_blur_equals_dense_conv(kind, size, k2):
    torch.manual_seed(1)
    x = torch.rand(1, 1, 36, 44, dtype=torch.float64)
    ref = _dense_blur(x, k2())
    out = blur(x, size=size, kind=kind)
    assert out.shape == x.shape
    rel = ((out - ref).abs().max() / ref.abs().max()).item()
    assert rel < 1e-10


def test_iteration_matches_dense_reference():
    torch.manual_seed(2)
    m = (torch.rand(1, 1, 36, 36, dtype=torch.float64) > 0.6).double()  # 36 > 32: reflection pad of 65 fits
    k2 = gauss_kernel(65, 1 / 40)
    init = 1 - m
    for _ in range(7):
        conf = _dense_blur(init, k2) * m
        init = conf + (1 - m)
    torch.testing.assert_close(confidence_mask(m, size=65), conf, rtol=0, atol=1e-12)


def test_known_values_at_256(conf256):
    m, c = conf256
    assert c.shape == (1, 1, 256, 256) and c.dtype == torch.float32
    # docs/official-implementation.md §5.6 quotes 0.85 (2 decimals) and 0.495 (3 decimals): allow half a unit of the
    # last quoted digit
    assert abs(c[0, 0, 64, 128].item() - 0.85) <= 0.005  # border midpoint, just inside the hole
    assert abs(c[0, 0, 128, 128].item() - 0.495) <= 0.0005  # centre
    # the default kernel at 256 is exactly the official 65 / (1/40) one
    assert torch.equal(c, confidence_mask(m, size=65, sigma=1 / 40))


def test_zero_outside_hole_and_range(conf256):
    m, c = conf256
    assert torch.all(c[m == 0] == 0)
    assert torch.all(c[m == 1] > 0) and c.max() <= 1


def test_monotone_from_border_to_centre(conf256):
    _, c = conf256
    row = c[0, 0, 128, 64:129]  # midline, from the hole's left border to its centre
    assert torch.all(row[1:] - row[:-1] <= 1e-6)
    assert row[0] - row[-1] > 0.3
    col = c[0, 0, 64:129, 128]
    torch.testing.assert_close(row, col, rtol=0, atol=1e-5)  # symmetric hole -> symmetric mask


def test_reverse_mask_batch_normalisation():
    m = torch.zeros(2, 1, 64, 64)
    m[0, :, 16:48, 16:48] = 1  # large hole
    m[1, :, 28:36, 20:30] = 1  # small hole
    c = confidence_mask(m)
    raw = reverse_confidence_mask(c, m, normalize=None)
    torch.testing.assert_close(raw, (1 - c) * m)
    rb = reverse_confidence_mask(c, m)
    assert rb.min().item() == 0 and abs(rb.max().item() - 1) < 1e-6
    assert torch.all(rb[m == 0] == 0) and torch.all((rb >= 0) & (rb <= 1 + 1e-6))
    # batch normalisation is one affine map for the whole batch
    torch.testing.assert_close(rb, (raw - raw.min()) / (raw.max() - raw.min()))
    rs = reverse_confidence_mask(c, m, normalize="sample")
    for i in range(2):
        assert abs(rs[i].max().item() - 1) < 1e-6 and rs[i].min().item() == 0
    assert not torch.allclose(rs, rb)
    assert rb[1].max().item() < 0.99  # the small hole's reverse mask is below the batch maximum


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_reverse_mask_degenerate_no_nan(fill):
    m = torch.full((2, 1, 40, 40), fill)
    c = confidence_mask(m)
    for mode in ("batch", "sample"):
        r = reverse_confidence_mask(c, m, normalize=mode)
        assert torch.all(torch.isfinite(r)) and torch.all(r == 0)


def test_gaussian_variant(conf256):
    m, c_off = conf256
    c = confidence_mask(m, kind="gaussian")
    assert torch.all(c[m == 0] == 0) and torch.all(c[m == 1] > 0) and c.max() <= 1
    row = c[0, 0, 128, 64:129]
    assert torch.all(row[1:] - row[:-1] <= 1e-6)
    assert (c - c_off).abs().max() > 0.01  # a genuinely different kernel


@pytest.mark.parametrize("h,w", [(32, 32), (64, 64), (32, 48)])
@pytest.mark.parametrize("kind", ["official", "gaussian"])
def test_small_images(h, w, kind):
    m = torch.zeros(2, 1, h, w)
    m[:, :, h // 4:3 * h // 4, w // 4:3 * w // 4] = 1
    for size in (None, 65):  # default (scaled kernel) and the official 65 (shrunk to the reflection limit)
        c = confidence_mask(m, size=size, kind=kind)
        assert c.shape == m.shape and torch.all(torch.isfinite(c))
        assert torch.all(c[m == 0] == 0) and torch.all(c[m == 1] > 0) and c.max() <= 1
    c = confidence_mask(m, kind=kind)
    # the scaled default keeps a real border-to-centre decay
    assert c[0, 0, h // 4, w // 2] - c[0, 0, h // 2, w // 2] > 0.2


def test_input_shapes_and_dtypes():
    m = _center_hole(40, dtype=torch.float64)
    c = confidence_mask(m[0, 0])
    assert c.shape == (1, 1, 40, 40) and c.dtype == torch.float64
    cb = confidence_mask(m.to(torch.bfloat16))
    assert cb.dtype == torch.bfloat16
    torch.testing.assert_close(cb.double(), c, rtol=0, atol=1e-2)
    with pytest.raises(ValueError):
        confidence_mask(torch.zeros(1, 3, 8, 8))
    assert math.isclose(confidence_mask(m, iters=0).abs().sum().item(), 0.0)
