"""Pure-PyTorch versions of the two custom CUDA ops of StyleGAN2 / EXE-GAN (docs/official-implementation.md §8).

Nothing here is compiled: every op is a composition of standard PyTorch calls, so it runs on CPU and CUDA and
under bf16/fp16 autocast. The math is that of the official ``fused_bias_act`` and ``upfirdn2d`` kernels.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def make_kernel(k: Sequence[float]) -> torch.Tensor:
    """2-D FIR kernel from a 1-D tap list: outer product, normalised to sum 1 ([1,3,3,1] -> 4x4, a_i*a_j/64)."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2,
                     scale: float = SQRT2) -> torch.Tensor:
    """``leaky_relu(x + bias, 0.2) * sqrt(2)`` with ``bias`` broadcast over dim 1, for any rank >= 2."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape).to(x.dtype), negative_slope) * scale


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, FIR-filter (true convolution), downsample; per channel.

    x: [B, C, H, W]. ``pad = (p0, p1)`` applies to both axes (negative values crop). The output side is
    ``(H * up + p0 + p1 - kh + down) // down``, exactly as the official CUDA kernel and ``upfirdn2d_native``.
    """
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    p0, p1 = pad
    if up == 1 and p0 == p1 >= 0:  # fast path (Blur): the padding inside the conv, no padded copy
        weight = torch.flip(kernel, (0, 1)).to(x.dtype)[None, None].expand(c, 1, kh, kw)
        x = F.conv2d(x, weight, padding=p0, groups=c)
        return x[:, :, ::down, ::down] if down > 1 else x
    if up == 2 and down == 1 and kh == kw == 4 and pad == (2, 1):  # fast path (Upsample): a transposed conv
        weight = kernel.to(x.dtype)[None, None].expand(c, 1, kh, kw)  # scatters, i.e. a true convolution
        return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=c)
    if up > 1:
        # each sample lands at i*up, followed by up-1 zeros
        x = torch.stack([x] + [torch.zeros_like(x)] * (up - 1), dim=-1).reshape(b, c, h, w * up)
        x = torch.stack([x] + [torch.zeros_like(x)] * (up - 1), dim=-2).reshape(b, c, h * up, w * up)
    x = F.pad(x, [p0, p1, p0, p1])
    # true convolution = cross-correlation with the kernel flipped on both axes; depthwise over channels
    weight = torch.flip(kernel, (0, 1)).to(x.dtype)[None, None].expand(c, 1, kh, kw)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x
