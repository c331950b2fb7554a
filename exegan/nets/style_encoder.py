"""pSp ``GradualStyleEncoder`` (IR-SE-50 backbone + FPN + GradualStyleBlocks), the exemplar encoder of EXE-GAN.

docs/official-implementation.md §3.1 (forward as used by EXE-GAN), §7.4 (``psp_ffhq_encode.pt`` key names / shapes),
§10.2 item 6.
With the default arguments, ``StyleEncoder().state_dict()`` has exactly the 621 keys (``num_batches_tracked``
buffers included) of the ``encoder.*`` part of ``psp_ffhq_encode.pt`` with the ``encoder.`` prefix stripped, so
that part loads with ``strict=True``. ``latent_avg`` is *not* part of this module: :meth:`StyleEncoder.forward`
returns the raw codes and the caller adds ``latent_avg[indices]``.

Shapes for the official model (input_size 256, body units (3, 4, 14, 3), widths (64, 128, 256, 512)):

- input_layer: [B,3,256,256] -> [B,64,256,256]
- body group 0 (units 0-2)  -> [B,64,128,128]
- body group 1 (units 3-6)  -> c1 [B,128,64,64]
- body group 2 (units 7-20) -> c2 [B,256,32,32]
- body group 3 (units 21-23)-> c3 [B,512,16,16]
- p2 = up(c3) + latlayer1(c2) [B,512,32,32];  p1 = up(p2) + latlayer2(c1) [B,512,64,64]
- styles 0-2 read c3, 3-6 read p2, 7-17 read p1; each gives [B,512].

Small variants (tests, a jointly trained low-resolution encoder) use the same structure with other
``input_size`` / ``units`` / ``widths`` / ``style_dim`` / ``n_styles``. Channel convention for them: the FPN
maps (c3, p2, p1) all have ``widths[-1]`` channels (the latlayers map ``widths[2]`` and ``widths[1]`` to
``widths[-1]``), and every style block is pSp's ``GradualStyleBlock(in_c=widths[-1], out_c=style_dim)``: its
first conv maps ``widths[-1] -> style_dim``, the others and ``linear`` keep ``style_dim``. In the official model
``widths[-1] == style_dim == 512`` so this is exactly the official layout.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import EqualLinear

COARSE_END = 3  # styles [0, 3) read c3           (pSp coarse_ind)
MIDDLE_END = 7  # styles [3, 7) read p2, [7, n) p1 (pSp middle_ind)


class SEModule(nn.Module):
    """Squeeze-and-excitation: x * sigmoid(fc2(relu(fc1(avgpool(x))))); fc1/fc2 are bias-free 1x1 convs.

    Hidden width = channels // reduction (at least 1, which only matters for very narrow test variants).
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * gate


class BottleneckIRSE(nn.Module):
    """IR-SE unit (docs/official-implementation.md §7.4): out = res_layer(x) + shortcut(x); [B,c,H,W] -> [B,d,H/s,W/s].

    res_layer = BN(c), Conv3x3(c->d), PReLU(d), Conv3x3(d->d, stride s), BN(d), SE(d); convs have no bias and
    the stride sits in the second conv. shortcut = MaxPool2d(1, s) if c == d else Conv1x1(c->d, stride s) + BN(d).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        if in_ch == out_ch:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_ch),
            nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False),
            nn.PReLU(out_ch),
            nn.Conv2d(out_ch, out_ch, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_ch),
            SEModule(out_ch, 16),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class GradualStyleBlock(nn.Module):
    """pSp style head (docs/official-implementation.md §3.1): [B,in_c,S,S] -> [B,out_c].

    log2(S) stages of Conv2d(3x3, stride 2, padding 1, bias) + LeakyReLU(0.01) (``convs.{2m}`` / ``convs.{2m+1}``),
    ending at 1x1, then ``linear`` = EqualLinear(out_c, out_c) (lr_mul 1, no activation).
    """

    def __init__(self, in_c: int, out_c: int, spatial: int):
        super().__init__()
        n_stages = int(round(math.log2(spatial)))
        if n_stages < 1 or 2 ** n_stages != spatial:
            raise ValueError(f"spatial must be a power of two >= 2, got {spatial}")
        layers: list[nn.Module] = []
        for m in range(n_stages):
            layers += [nn.Conv2d(in_c if m == 0 else out_c, out_c, 3, 2, 1), nn.LeakyReLU(0.01)]
        self.out_c = out_c
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_c, out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).reshape(-1, self.out_c))


def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """pSp ``_upsample_add``: bilinear (align_corners=True) resize of x to y's size, plus y."""
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y


def resolve_style_indices(indices: Iterable[int] | slice | None, n_styles: int) -> list[int]:
    """The style indices an encoder's ``forward(x, indices)`` computes, in output order (None = all; negative
    indices count from the end); ``IndexError`` / ``ValueError`` for out-of-range or empty selections."""
    if indices is None:
        return list(range(n_styles))
    if isinstance(indices, slice):
        return list(range(n_styles)[indices])
    out = []
    for i in indices:
        i = int(i)
        if not -n_styles <= i < n_styles:
            raise IndexError(f"style index {i} out of range for n_styles={n_styles}")
        out.append(i % n_styles)
    if not out:
        raise ValueError("indices selects no style")
    return out


class StyleEncoder(nn.Module):
    """pSp GradualStyleEncoder (IR-SE-50); defaults = the official ``psp_ffhq_encode.pt`` encoder.

    Args:
        n_styles: number of style blocks / W+ codes (official 18; EXE-GAN forces 18).
        style_dim: width of each code (official 512).
        input_size: side the input is resized to (official 256); a power of two >= 32.
        units: IR-SE units per body group; exactly four groups (official (3, 4, 14, 3) = IR-SE-50).
        widths: channel width of each group (official (64, 128, 256, 512)); the input layer has widths[0].

    Style i reads c3 (side input_size/16) for i < 3, p2 (input_size/8) for 3 <= i < 7, p1 (input_size/4)
    otherwise (pSp's coarse_ind / middle_ind, clipped to n_styles).
    """

    kind = "psp"

    def __init__(self, n_styles: int = 18, style_dim: int = 512, input_size: int = 256,
                 units: Sequence[int] = (3, 4, 14, 3), widths: Sequence[int] = (64, 128, 256, 512)):
        super().__init__()
        if len(units) != 4 or len(widths) != 4 or min(units) < 1:
            raise ValueError("units and widths need exactly four groups with at least one unit each")
        if input_size < 32 or input_size & (input_size - 1):
            raise ValueError(f"input_size must be a power of two >= 32, got {input_size}")
        self.n_styles, self.style_dim, self.input_size = n_styles, style_dim, input_size
        self.units, self.widths = tuple(units), tuple(widths)

        self.input_layer = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.PReLU(widths[0]))
        body: list[nn.Module] = []
        in_ch = widths[0]
        for n_units, width in zip(units, widths):
            for k in range(n_units):
                body.append(BottleneckIRSE(in_ch, width, 2 if k == 0 else 1))
                in_ch = width
        self.body = nn.Sequential(*body)
        # Unit indices whose outputs are c1, c2, c3 (official: 6, 20, 23).
        self._c1_unit = units[0] + units[1] - 1
        self._c2_unit = self._c1_unit + units[2]

        fpn = widths[3]
        self._levels = [0 if i < COARSE_END else 1 if i < MIDDLE_END else 2 for i in range(n_styles)]
        sides = (input_size // 16, input_size // 8, input_size // 4)  # c3, p2, p1
        self.styles = nn.ModuleList(GradualStyleBlock(fpn, style_dim, sides[lv]) for lv in self._levels)
        self.latlayer1 = nn.Conv2d(widths[2], fpn, 1, 1, 0)
        self.latlayer2 = nn.Conv2d(widths[1], fpn, 1, 1, 0)

    def forward(self, x: torch.Tensor, indices: Iterable[int] | slice | None = None) -> torch.Tensor:
        """Codes of an image batch.

        Args:
            x: [B,3,H,W] in [-1,1]; resized to input_size x input_size (bilinear, align_corners=True, as the
                official) unless it already has that size.
            indices: style indices to compute, in output order (sequence, range or slice; None = all).
                Only the requested style blocks run, and FPN levels nobody needs are skipped.

        Returns:
            [B, len(indices), style_dim], *before* ``latent_avg`` is added (unbounded values).
        """
        idx = resolve_style_indices(indices, self.n_styles)
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=True)
        x = self.input_layer(x.contiguous(memory_format=torch.channels_last))  # oneDNN's fast layout on CPU
        c1 = c2 = None
        for u, unit in enumerate(self.body):
            x = unit(x)
            if u == self._c1_unit:
                c1 = x
            elif u == self._c2_unit:
                c2 = x
        feats = {0: x}  # c3
        need = {self._levels[i] for i in idx}
        if need & {1, 2}:
            feats[1] = _upsample_add(x, self.latlayer1(c2))  # p2
        if 2 in need:
            feats[2] = _upsample_add(feats[1], self.latlayer2(c1))  # p1
        return torch.stack([self.styles[i](feats[self._levels[i]]) for i in idx], dim=1)
