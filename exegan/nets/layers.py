"""StyleGAN2 building blocks with the official EXE-GAN parameter names (docs/official-implementation.md §2.2, §7).

Every class keeps the attribute names, parameter shapes and buffer persistence of the authors' code, so that
their checkpoints load with ``strict=True``. Weights are stored in "equalised learning rate" form (N(0,1)
init, scaled at run time).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import SQRT2, fused_leaky_relu, make_kernel, upfirdn2d

BLUR_KERNEL = (1, 3, 3, 1)


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class PixelNorm(nn.Module):
    """x * rsqrt(mean(x^2 over features) + 1e-8). No parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU(0.2) + gain sqrt(2); parameter ``bias`` [C]."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class EqualLinear(nn.Module):
    """Linear layer with equalised LR: weight [out, in] used as weight * lr_mul / sqrt(in), bias as bias * lr_mul.

    ``activation="fused_lrelu"`` applies :class:`FusedLeakyReLU` math with this layer's bias.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: str | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.activation = activation
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.scale
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            return fused_leaky_relu(F.linear(x, weight), bias)
        return F.linear(x, weight, bias)


class EqualConv2d(nn.Module):
    """Conv2d with equalised LR: weight [out, in, k, k] ~ N(0,1) used as weight / sqrt(in * k^2)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor, gain: float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Convolution times ``gain``; ``bias`` (already scaled) replaces the layer's own bias when given."""
        return F.conv2d(x, self.weight * (self.scale * gain), self.bias if bias is None else bias,
                        stride=self.stride, padding=self.padding)


class Blur(nn.Module):
    """FIR low-pass (upfirdn2d, up=down=1) with a persistent ``kernel`` buffer (x factor^2 after upsampling)."""

    def __init__(self, kernel: Sequence[int], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor ** 2
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """x2 FIR upsampling of the ToRGB skip: upfirdn2d(up=2, pad=(2, 1)), buffer ``kernel`` = make_kernel * 4."""

    def __init__(self, kernel: Sequence[int], factor: int = 2):
        super().__init__()
        self.factor = factor
        k = make_kernel(kernel) * factor ** 2
        self.register_buffer("kernel", k)
        p = k.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution. ``weight`` [1, out, in, k, k]; ``modulation`` maps the style to [B, in].

    Official math (docs/official-implementation.md §2.2): w_b = scale * weight * s_b, demodulated per output channel
    with rsqrt(sum w_b^2 + 1e-8). For a batch we evaluate it in the equivalent "modulate activations" form
    ``conv(x * s_b, scale * weight) * d_b``, which shares one convolution weight across the batch (much faster
    than a per-sample grouped convolution on CPU; identical up to float summation order); a single sample uses
    the official form directly (modulation and demodulation folded into the weight: no extra passes).
    The modulation and demodulation factors are computed in float32 even under autocast.
    Upsampling: transposed conv (stride 2, no spatial flip, 2H+1) then Blur pad (1, 1) -> 2H.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, blur_kernel: Sequence[int] = BLUR_KERNEL):
        super().__init__()
        self.in_ch, self.out_ch, self.kernel_size = in_ch, out_ch, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:  # registered before `modulation` to keep the official state-dict order
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1)

    def forward(self, x: torch.Tensor, style: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """x [B, in, H, W], style [B, style_dim] -> [B, out, H', W'], times ``gain`` (folded into the weights)."""
        with torch.autocast(x.device.type, enabled=False):
            s = self.modulation(_at_least_fp32(style))  # [B, in]
            weight = _at_least_fp32(self.weight[0]) * self.scale  # [out, in, k, k]
            demod = None  # per-sample output scale [B, out] (demodulation and gain), None = 1
            if self.demodulate:  # sum_{in,kh,kw} (w * s_b)^2 = (s_b^2) @ (sum_{kh,kw} w^2)^T
                demod = gain * torch.rsqrt((s * s) @ weight.pow(2).sum((2, 3)).t() + 1e-8)
            elif gain != 1:
                demod = torch.full_like(s[:, :1], gain).expand(-1, self.out_ch)
            if x.shape[0] == 1:  # one sample: the official fused form, modulation folded into the weight
                weight = weight * s[0][None, :, None, None]
                if demod is not None:
                    weight = weight * demod[0][:, None, None, None]
        if x.shape[0] != 1:
            x = x * s.to(x.dtype)[:, :, None, None]
        weight = weight.to(x.dtype, memory_format=torch.channels_last)  # autocast casts both operands anyway
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        else:
            out = F.conv2d(x, weight, padding=self.kernel_size // 2)
        if x.shape[0] != 1 and demod is not None:
            out = out * demod.to(out.dtype)[:, :, None, None]
        if self.upsample:
            out = self.blur(out)
        return out


class NoiseInjection(nn.Module):
    """x + weight * noise; ``weight`` [1] starts at 0. noise [B, 1, H, W] ~ N(0, 1), fresh when not given."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None, gain: float = 1.0) -> torch.Tensor:
        """x + gain * weight * noise."""
        if noise is None:
            b, _, h, w = x.shape
            noise = x.new_empty(b, 1, h, w).normal_()
        return x + (self.weight * gain).to(x.dtype) * noise.to(x.dtype)


class StyledConv(nn.Module):
    """Modulated 3x3 conv -> + noise -> bias + leaky ReLU * sqrt(2). Children: conv, noise, activate."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[int] = BLUR_KERNEL):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        # lrelu(z) * sqrt2 = lrelu(sqrt2 * z): the gain goes into the conv weights and the noise strength, then
        # bias and activation run in place (same math as activate(noise(conv(x))), fewer passes)
        out = self.noise(self.conv(x, style, gain=SQRT2), noise, gain=SQRT2)
        out = out.add_((self.activate.bias * SQRT2).to(out.dtype)[None, :, None, None])
        return F.leaky_relu(out, 0.2, inplace=True)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) + ``bias`` [1, 3, 1, 1], plus the upsampled skip image."""

    def __init__(self, in_ch: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[int] = BLUR_KERNEL):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias.to(x.dtype)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d -> [FusedLeakyReLU], as an ``nn.Sequential`` (its indices are checkpoint keys).

    The conv has a bias only when ``bias and not activate`` (an activated layer keeps its bias in the
    activation). Downsampling blurs with pad ((p+1)//2, p//2), p = 2 + (k - 1), then convolves with stride 2.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, downsample: bool = False,
                 blur_kernel: Sequence[int] = BLUR_KERNEL, bias: bool = True, activate: bool = True):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_ch))
        super().__init__(*layers)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.activate:
            return super().forward(x)
        *pre, conv, act = self
        for m in pre:
            x = m(x)
        # bias + leaky ReLU * sqrt(2) folded into the conv: lrelu(sqrt2 * z) = sqrt2 * lrelu(z) (same math, one
        # elementwise pass instead of three)
        return F.leaky_relu(conv(x, gain=SQRT2, bias=act.bias * SQRT2), 0.2, inplace=True)


class ResBlock(nn.Module):
    """Discriminator residual block: (conv2(conv1(x)) + skip(x)) / sqrt(2), halving the resolution."""

    def __init__(self, in_ch: int, out_ch: int, blur_kernel: Sequence[int] = BLUR_KERNEL):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=True, blur_kernel=blur_kernel, activate=False,
                              bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)
